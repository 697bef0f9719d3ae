package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/orc-gateway/orc/sdk/client"
)

const loginUsage = `Usage: orc login [--url URL] [--email EMAIL] [--password-stdin] [--json]
       orc login --sso [--url URL] [--json]

Signs in to an Orc gateway with a local account, or with single sign-on in
the browser (--sso), and saves the gateway's URL and a token for the other
commands in $ORC_CONFIG (default $XDG_CONFIG_HOME/orc/config.json or
~/.config/orc/config.json, mode 0600).

With --sso, orc prints a URL to open in a browser and waits (up to five
minutes) for the browser to come back to a listener on 127.0.0.1.

The password comes from ORC_PASSWORD, from the first line of standard input
with --password-stdin, or from a prompt that does not echo it when standard
input is a terminal. It is never a flag: flags show up in process lists.
`

// signIn obtains a token from the gateway c talks to. Local accounts sign
// in with a password; single sign-on goes through the browser (ssoSignIn).
type signIn func(ctx context.Context, c *client.Client) (string, error)

// Login runs orc login with args, the command line after "login": it signs
// in to a gateway and saves its URL and a token in the config file for the
// other commands. The password is read from stdin with --password-stdin,
// else is env.Password, else is asked for at a prompt on stderr when stdin
// is a terminal (an *os.File).
//
// # Errors
//
// ErrUsage for a bad command line, flag.ErrHelp for -h; otherwise the
// failed step, with the API's explanation.
func Login(ctx context.Context, env Env, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("login", loginUsage, stderr)
	urlFlag := fs.String("url", "", "gateway URL (default: ORC_URL, the saved one, or "+defaultGatewayURL+")")
	email := fs.String("email", "", "e-mail address of the local account (asked for on a terminal)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	sso := fs.Bool("sso", false, "sign in with single sign-on in the browser")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(stderr, "login", rest, 0, 0, ""); err != nil {
		return err
	}
	saved, path, err := loadConfig(env)
	if err != nil {
		return err
	}
	u := gatewayURL(*urlFlag, env, saved)
	anon, err := newAPIClient(u, "")
	if err != nil {
		return err
	}

	var method signIn
	if *sso {
		method = ssoSignIn{prompt: stderr, timeout: 5 * time.Minute}.signIn
	} else {
		p := passwordSignIn{email: *email, fromStdin: *fromStdin, envPassword: env.Password, stdin: stdin, prompt: stderr}
		if p.email == "" && (p.fromStdin || !stdinIsTerminal(stdin)) {
			return usageError(stderr, "login", "--email is required")
		}
		method = p.signIn
	}
	token, err := method(ctx, anon)
	if err != nil {
		return fmt.Errorf("sign in to %s: %w", u, explain(err))
	}
	c, err := newAPIClient(u, token)
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return fmt.Errorf("check the new token: %w", explain(err))
	}
	if err := saveConfig(path, config{URL: u, Token: token}); err != nil {
		return err
	}
	if *jsonOut {
		return writeJSONLine(stdout, map[string]any{"url": u, "email": me.Email, "role": me.Role, "config": path})
	}
	fmt.Fprintf(stdout, "Signed in to %s as %s (%s).\n", u, me.Email, me.Role)
	fmt.Fprintf(stderr, "The token is saved in %s.\n", path)
	return nil
}

// passwordSignIn signs a local account in with its password.
type passwordSignIn struct {
	email       string
	fromStdin   bool
	envPassword string // ORC_PASSWORD
	stdin       io.Reader
	prompt      io.Writer
}

func (p passwordSignIn) signIn(ctx context.Context, c *client.Client) (string, error) {
	email := p.email
	if email == "" {
		fmt.Fprint(p.prompt, "Email: ")
		line, err := readLine(ctx, p.stdin)
		if err != nil {
			return "", fmt.Errorf("read e-mail address: %w", err)
		}
		if email = strings.TrimSpace(line); email == "" {
			return "", errors.New("no e-mail address")
		}
	}
	pw, err := p.password(ctx)
	if err != nil {
		return "", err
	}
	return c.Login(ctx, email, pw)
}

// password finds the password: ORC_PASSWORD, standard input, or a prompt.
func (p passwordSignIn) password(ctx context.Context) (string, error) {
	if p.fromStdin {
		line, err := readLine(ctx, p.stdin)
		if err != nil {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		if line == "" {
			return "", errors.New("standard input has no password")
		}
		return line, nil
	}
	if p.envPassword != "" {
		return p.envPassword, nil
	}
	f, ok := p.stdin.(*os.File)
	if !ok || !isTerminal(f) {
		return "", errors.New("no password: set ORC_PASSWORD, use --password-stdin, or run on a terminal")
	}
	fmt.Fprint(p.prompt, "Password: ")
	pw, err := readSecret(ctx, f)
	fmt.Fprintln(p.prompt)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if pw == "" {
		return "", errors.New("no password")
	}
	return pw, nil
}

// stdinIsTerminal reports whether r is a terminal, where people can be
// asked for what is missing.
func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminal(f)
}

// readLine reads one line from r without the line ending; a last line
// without one counts. It gives up when ctx ends (Ctrl-C at a prompt), though
// the read itself goes on until the process exits.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// One byte at a time: a buffered reader would swallow what follows
		// the line, which is the caller's.
		var b strings.Builder
		buf := make([]byte, 1)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if buf[0] == '\n' {
					break
				}
				b.WriteByte(buf[0])
			}
			if err != nil {
				if errors.Is(err, io.EOF) && b.Len() > 0 {
					break
				}
				done <- result{err: err}
				return
			}
		}
		done <- result{line: strings.TrimSuffix(b.String(), "\r")}
	}()
	select {
	case res := <-done:
		return res.line, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
