package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/orc-gateway/orc"
	"github.com/orc-gateway/orc/identity"
	"github.com/orc-gateway/orc/store/postgres"
)

const userUsage = `Usage: orc user create --email E [--admin | --role R] [--name N] [--password-stdin]

Creates a local account. The password is read from ORC_USER_PASSWORD or,
with --password-stdin, from the first line of standard input, never from a
flag (flags show up in process lists).
`

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, userUsage)
		return errUsage
	}
	cfg := DefaultConfig()
	fs := newFlagSet("user create", "Create a local account.", stderr)
	fs.StringVar(&cfg.DatabaseURL, "database-url", cfg.DatabaseURL, "PostgreSQL URL")
	email := fs.String("email", "", "e-mail address (the user name)")
	name := fs.String("name", "", "display name")
	role := fs.String("role", string(orc.RoleInvoker), "admin, developer, invoker or viewer")
	admin := fs.Bool("admin", false, "make the account an admin (same as --role admin)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	if err := parse(fs, args[1:], os.Getenv); err != nil {
		return err
	}
	if *admin {
		*role = string(orc.RoleAdmin)
	}
	if *email == "" {
		return fmt.Errorf("--email is required")
	}
	if err := identity.CheckEmail(*email); err != nil {
		return fmt.Errorf("--email: %w", err)
	}
	if err := identity.CheckUserName(*name); err != nil {
		return fmt.Errorf("--name: %w", err)
	}
	pw := os.Getenv("ORC_USER_PASSWORD")
	if *fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read password: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if pw == "" {
		return fmt.Errorf("no password: set ORC_USER_PASSWORD or use --password-stdin")
	}
	hash, err := identity.HashPassword(pw)
	if err != nil {
		return err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	u := &orc.User{Email: *email, Name: *name, Role: orc.Role(*role), PasswordHash: hash}
	if err := db.CreateUser(ctx, u); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %d %s (%s)\n", u.ID, u.Email, u.Role)
	return nil
}
