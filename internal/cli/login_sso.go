package cli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/orc-gateway/orc/sdk/client"
)

// ssoSignIn signs in with single sign-on: the authorization code flow with
// PKCE against the gateway (RFC 8252, a native app with a loopback
// redirect). The gateway runs the provider's flow in the browser and sends
// the browser back to a listener here with a one-time code, which only this
// process's PKCE verifier can exchange for a token.
type ssoSignIn struct {
	prompt  io.Writer
	timeout time.Duration
}

// clientID is the client id the gateway knows the CLI by.
const clientID = "orc-cli"

func (s ssoSignIn) signIn(ctx context.Context, c *client.Client) (string, error) {
	base := strings.TrimSuffix(c.BaseURL(), "/")
	if err := probeSSO(ctx, base); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for the browser: %w", err)
	}
	defer ln.Close()
	conf := oauth2.Config{
		ClientID:    clientID,
		Endpoint:    oauth2.Endpoint{AuthURL: base + "/auth/login", TokenURL: base + "/api/v1/auth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: "http://" + ln.Addr().String() + "/callback",
	}
	verifier := oauth2.GenerateVerifier()
	state := randomState()

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res result
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			http.Error(w, "This sign-in was not started by this orc login.", http.StatusBadRequest)
			return
		case q.Get("code") == "":
			res.err = errors.New("the gateway sent no code")
		default:
			res.code = q.Get("code")
		}
		fmt.Fprintln(w, "Signed in to Orc. You can close this window and return to the terminal.")
		select {
		case done <- res:
		default:
		}
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	defer srv.Close()

	fmt.Fprintf(s.prompt, "Open this URL in a browser to sign in:\n\n  %s\n\nWaiting for the browser...\n",
		conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	timer := time.NewTimer(s.timeout)
	defer timer.Stop()
	var res result
	select {
	case res = <-done:
	case <-timer.C:
		return "", fmt.Errorf("no sign-in within %s", s.timeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if res.err != nil {
		return "", res.err
	}
	tok, err := conf.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return "", fmt.Errorf("the gateway refused the sign-in code (%s)", re.Response.Status)
		}
		return "", err
	}
	return tok.AccessToken, nil
}

func randomState() string {
	b := make([]byte, 24)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// probeSSO checks that the gateway has single sign-on before anyone is sent
// to a browser: an incomplete command line sign-in is refused with 400 when
// it has, and 404 when it has not. Nothing is started by it.
func probeSSO(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/auth/login?client_id="+clientID, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("check single sign-on: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return errors.New("the gateway has no single sign-on configured; sign in with a local account (--email)")
	}
	return nil
}
