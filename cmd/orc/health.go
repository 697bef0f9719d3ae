package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const healthUsage = `Usage: orc health [URL]

Asks a process's health endpoint (default http://127.0.0.1:5900/readyz,
the gateway's readiness) and exits 0 when it answers 200, 1 otherwise: the
healthcheck of images that have no shell or curl.
`

// runHealth is a container's healthcheck: GET the URL, 200 or fail.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	url := "http://127.0.0.1:5900/readyz"
	switch {
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(stdout, healthUsage)
		return nil
	case len(args) == 1:
		url = args[0]
	case len(args) > 1:
		fmt.Fprint(stderr, healthUsage)
		return errUsage
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	return nil
}
