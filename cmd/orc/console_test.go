package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/orc-gateway/orc"
	chrome "github.com/orc-gateway/orc/internal/testenv/browser"
)

// consoleShot saves a screenshot of the page under the name given: into
// ORC_CONSOLE_SCREENSHOTS when set (make console-screenshots points it at
// docs/console), else into the test's artifact directory.
func consoleShot(t *testing.T, b *chrome.Browser, name string) {
	t.Helper()
	dir := os.Getenv("ORC_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	b.Screenshot(t, filepath.Join(dir, name+".png"))
}

// consoleSignIn signs in with the console's form and waits for the
// overview.
func consoleSignIn(t *testing.T, b *chrome.Browser, base, email, password string) {
	t.Helper()
	b.Navigate(t, base+"/console/")
	b.WaitVisible(t, "#email")
	b.SetValue(t, "#email", email)
	b.SetValue(t, "#password", password)
	b.Click(t, "form button[type=submit]")
	b.WaitVisible(t, "nav[aria-label=Sections]")
}

// selectOption picks the option of a select by its text.
func selectOption(t *testing.T, b *chrome.Browser, selector, text string) {
	t.Helper()
	var ok bool
	b.Eval(t, `(() => { const s = document.querySelector(`+strconv.Quote(selector)+`);
		const o = [...s.options].find(o => o.textContent.trim() === `+strconv.Quote(text)+`);
		if (!o) return false; s.value = o.value; s.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, &ok)
	if !ok {
		t.Fatalf("%s has no option %q", selector, text)
	}
}

// TestConsoleTryIt: sign in with the local form, open example-processor,
// fill the form generated from its schema, run it and see 15; an invalid
// input shows its error on the field it names.
func TestConsoleTryIt(t *testing.T) {
	s := newStack(t, nil, false)
	s.register(manifest(t, "processor", nil))
	s.register(manifest(t, "echo", nil))
	b := chrome.New(t)
	base := s.gw.URL()

	b.Navigate(t, base+"/console/login")
	b.WaitVisible(t, "#email")
	consoleShot(t, b, "sign-in")
	consoleSignIn(t, b, base, adminEmail, adminPassword)

	b.Navigate(t, base+"/console/plugins")
	b.WaitVisible(t, ".cards")
	consoleShot(t, b, "plugins")

	b.Navigate(t, base+"/console/plugins/example-processor")
	b.WaitVisible(t, "#try")
	for i := range 5 {
		b.Click(t, "[data-sf-add]")
		b.WaitVisible(t, `[name="/data/`+string(rune('0'+i))+`"]`)
		b.SetValue(t, `[name="/data/`+string(rune('0'+i))+`"]`, string(rune('1'+i)))
	}
	selectOption(t, b, `[name="/operation"]`, "sum")
	b.Click(t, `#try button[value="0"]`)
	b.WaitVisible(t, "#output")
	if out := b.Text(t, "#output"); !strings.Contains(out, `"result": 15`) {
		t.Fatalf("output = %q, want result 15", out)
	}
	consoleShot(t, b, "try-it")
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors: %q", errs)
	}

	// The same page on a phone: nothing wider than the screen.
	m := b.Mobile(t)
	m.Navigate(t, base+"/console/plugins/example-processor")
	m.WaitVisible(t, "#try")
	var width int
	m.Eval(t, `document.documentElement.scrollWidth`, &width)
	if width > chrome.MobileWidth {
		t.Errorf("the plugin page is %d px wide on a %d px screen", width, chrome.MobileWidth)
	}
	consoleShot(t, m, "try-it-mobile")

	// The invocation the form ran, with its output.
	b.Click(t, "#result h3 a")
	b.WaitVisible(t, "#output")
	if out := b.Text(t, "#status"); out != "succeeded" {
		t.Errorf("status = %q", out)
	}
	consoleShot(t, b, "invocation")
	b.Navigate(t, base+"/console/invocations")
	b.WaitVisible(t, "table.list")
	consoleShot(t, b, "invocations")

	// A new invocation appears in the open list without a reload, and its
	// status follows it.
	b.Eval(t, `window.orcNotReloaded = true`, nil)
	resp := s.do("POST", "/invoke/echo", `{"sleep_ms":1500}`, "Prefer", "respond-async")
	if resp.status != http.StatusAccepted {
		t.Fatalf("invoke: %d %s", resp.status, resp.body)
	}
	id := resp.header.Get("X-Orc-Invocation-Id")
	row := `tr[data-id="` + id + `"]`
	b.WaitVisible(t, row)
	waitText(t, b, row+" .badge", "succeeded")
	var same bool
	b.Eval(t, `window.orcNotReloaded === true`, &same)
	if !same {
		t.Error("the list reloaded instead of updating")
	}

	// A long invocation's page follows it, shows its log lines while it
	// runs, and cancel stops it.
	resp = s.do("POST", "/invoke/echo", `{"sleep_ms":60000,"log_lines":60}`, "Prefer", "respond-async")
	long := resp.header.Get("X-Orc-Invocation-Id")
	b.Navigate(t, base+"/console/invocations/"+long)
	waitText(t, b, "#status", "running")
	waitTextThat(t, b, "#logs .log-stderr", "is a line of echo's", func(s string) bool {
		return strings.HasPrefix(s, "echo: log line ") && strings.HasSuffix(s, " of 60")
	})
	var inv orc.Invocation
	if s.do("GET", "/api/v1/invocations/"+long, nil).json(t, &inv); inv.Status.Terminal() {
		t.Errorf("the log line showed once the invocation was %s, want while it runs", inv.Status)
	}
	consoleShot(t, b, "live-log")
	b.Click(t, "#cancel")
	waitText(t, b, "#status", "canceled")
	consoleShot(t, b, "canceled")

	// A dead letter, redriven from its page.
	v, err := s.db.FindVersion(context.Background(), "echo", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	dead := s.deadLetterOf(s.userID(adminEmail), v)
	b.Navigate(t, base+"/console/dead-letters")
	b.WaitVisible(t, `tr[data-id="`+dead+`"] .redrive`)
	consoleShot(t, b, "dead-letters")
	b.Click(t, `tr[data-id="`+dead+`"] .redrive`)
	b.WaitVisible(t, ".notice")
	if inv := s.waitFor(dead, 30*time.Second, terminal); inv.Status != orc.StatusSucceeded {
		t.Errorf("the redriven dead letter ended %s", inv.Status)
	}

	// A hook uploaded from its page.
	wasm := filepath.Join(t.TempDir(), "validator.wasm")
	if err := os.WriteFile(wasm, hookModule(t, "validator"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Navigate(t, base+"/console/hooks")
	b.WaitVisible(t, "#upload")
	b.SetValue(t, "#h-name", "input-checks")
	b.SetValue(t, "#h-desc", "refuses inputs that break the rules")
	b.Run(t, chromedp.SetUploadFiles(chromedp.CSS("#h-module"), []string{wasm}))
	b.Click(t, "#upload button[type=submit]")
	b.WaitVisible(t, `tr[data-hook="input-checks"]`)
	consoleShot(t, b, "hooks")

	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("the pages logged errors: %q", errs)
	}
}

// waitText waits until the element's text is want.
func waitText(t *testing.T, b *chrome.Browser, selector, want string) {
	t.Helper()
	waitTextThat(t, b, selector, strconv.Quote(want), func(got string) bool { return got == want })
}

// waitTextThat waits until the (first) element's text, trimmed, is what
// ok accepts; what describes it.
func waitTextThat(t *testing.T, b *chrome.Browser, selector, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got string
		b.Eval(t, `(document.querySelector(`+strconv.Quote(selector)+`) || {}).textContent || ""`, &got)
		if ok(strings.TrimSpace(got)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s reads %q, want %s", selector, got, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConsoleCluster: the cluster page shows the Ray nodes with their
// resources, the pools the scheduler reports and the workers; an invoker
// may not see it.
func TestConsoleCluster(t *testing.T) {
	s := newRayStack(t)
	s.register(manifest(t, "echo", echoIn("echo-cl", "cluster-pool", map[string]any{"cpu": 0.5})))
	s.invokeSync(t, "echo-cl", `{"n":1}`)
	b := chrome.New(t)
	base := s.gw.URL()
	consoleSignIn(t, b, base, adminEmail, adminPassword)
	b.Navigate(t, base+"/console/cluster")
	b.WaitVisible(t, "meter")
	body := b.Text(t, "main")
	for _, want := range []string{"head", "CPU", "cluster-pool", "accelerator", "taking tasks", "docker"} {
		if !strings.Contains(body, want) {
			t.Errorf("the cluster page lacks %q:\n%s", want, body)
		}
	}
	consoleShot(t, b, "cluster")

	s.addUser("invoker-cl@example.com", orc.RoleInvoker)
	u := newConsoleUser(t, base)
	u.signIn("invoker-cl@example.com", "password-invoker-cl@example.com")
	if a := u.do("GET", "/console/cluster", nil); a.status != http.StatusForbidden {
		t.Errorf("an invoker's cluster page: %d", a.status)
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors: %q", errs)
	}
}

// TestConsoleSSO: "Sign in with SSO" runs the provider's sign-in in the
// browser and lands on the console signed in; a user whose groups map to
// no role signs in as a viewer and sees no write controls.
func TestConsoleSSO(t *testing.T) {
	s, _ := newIdentityStack(t, nil)
	s.register(echoManifest(t, "echo-sso", true))
	base := s.gw.URL()
	b := chrome.New(t)

	ssoSignIn := func(user, password string) {
		t.Helper()
		b.Navigate(t, base+"/console/plugins")
		b.WaitVisible(t, "#sso")
		b.Click(t, "#sso")
		b.WaitVisible(t, `input[name="username"]`)
		b.SetValue(t, `input[name="username"]`, user)
		b.SetValue(t, `input[name="password"]`, password)
		b.Click(t, "form button")
		b.WaitVisible(t, "nav[aria-label=Sections]")
	}
	ssoSignIn("alice", "alice-pw")
	if who := b.Text(t, ".who"); !strings.Contains(who, "alice@example.com") || !strings.Contains(who, "developer") {
		t.Errorf("signed in as %q, want alice the developer", who)
	}
	var path string
	b.Eval(t, `location.pathname`, &path)
	if path != "/console/plugins" {
		t.Errorf("after SSO the browser is at %s, want the page it asked for", path)
	}
	b.Click(t, ".who button")
	b.WaitVisible(t, "#email")

	ssoSignIn("dave", "dave-pw")
	if who := b.Text(t, ".who"); !strings.Contains(who, "viewer") {
		t.Errorf("dave signed in as %q, want a viewer", who)
	}
	b.Navigate(t, base+"/console/plugins/echo-sso")
	b.WaitVisible(t, "h1")
	var controls int
	b.Eval(t, `document.querySelectorAll("#try, #upload, .redrive, #cancel, #retry").length`, &controls)
	if controls != 0 {
		t.Errorf("a viewer sees %d write controls on the plugin page", controls)
	}
	b.Navigate(t, base+"/console/hooks")
	b.WaitVisible(t, "h1")
	b.Eval(t, `document.querySelectorAll("#upload, .delete").length`, &controls)
	if controls != 0 {
		t.Errorf("a viewer sees %d write controls on the hooks page", controls)
	}
	consoleShot(t, b, "viewer")
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("the pages logged errors: %q", errs)
	}
}
