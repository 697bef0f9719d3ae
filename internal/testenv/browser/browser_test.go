package browser_test

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orc-gateway/orc/internal/testenv/browser"
)

// page is served under a strict policy: its external script runs, its
// inline script must not.
const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>browser test</title>
</head>
<body>
<h1 id="msg">waiting</h1>
<p>A page for the browser helper's own test.</p>
<button id="go" type="button">Change the heading</button>
<script src="/app.js"></script>
<script>document.getElementById("msg").textContent = "inline script ran";</script>
</body>
</html>
`

const appJS = `document.getElementById("go").addEventListener("click", function () {
	document.getElementById("msg").textContent = "clicked";
});
`

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, appJS)
	})
	// Chromium asks for /favicon.ico after a page loads, and logs a 404
	// there as an error.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestBrowser(t *testing.T) {
	srv := newServer(t)
	b := browser.New(t)

	t.Run("navigate", func(t *testing.T) {
		b.Navigate(t, srv.URL+"/")
		b.WaitVisible(t, "#go")
		// "waiting", not "inline script ran": the policy blocked it.
		if got := b.Text(t, "#msg"); got != "waiting" {
			t.Fatalf("heading = %q after load, want %q", got, "waiting")
		}
	})

	t.Run("click", func(t *testing.T) {
		b.Click(t, "#go")
		if got := b.Text(t, "#msg"); got != "clicked" {
			t.Fatalf("heading = %q after the click, want %q", got, "clicked")
		}
	})

	t.Run("blocked inline script is a console error", func(t *testing.T) {
		errs := b.ConsoleErrors()
		var found bool
		for _, e := range errs {
			found = found || strings.Contains(e, "Content Security Policy")
		}
		if !found {
			t.Fatalf("console errors = %q, want a Content Security Policy violation", errs)
		}
		t.Logf("console errors: %q", errs)
	})

	t.Run("eval", func(t *testing.T) {
		var size [2]int
		b.Eval(t, "[window.innerWidth, window.innerHeight]", &size)
		if want := [2]int{browser.DesktopWidth, browser.DesktopHeight}; size != want {
			t.Errorf("desktop window's inner size = %v, want %v", size, want)
		}
		b.Eval(t, `console.error("from eval", 42)`, nil)
		errs := b.ConsoleErrors()
		if last := errs[len(errs)-1]; !strings.HasPrefix(last, "console.error: from eval 42") {
			t.Errorf("last console error = %q, want console.error: from eval 42 ...", last)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		path := filepath.Join(t.ArtifactDir(), "page.png")
		b.Screenshot(t, path)
		checkPNG(t, path, browser.DesktopWidth)
	})

	t.Run("mobile", func(t *testing.T) {
		m := b.Mobile(t)
		m.Navigate(t, srv.URL+"/")
		var width int
		m.Eval(t, "window.innerWidth", &width)
		if width != browser.MobileWidth {
			t.Errorf("mobile window.innerWidth = %d, want %d", width, browser.MobileWidth)
		}
		var touch bool
		m.Eval(t, "navigator.maxTouchPoints > 0", &touch)
		if !touch {
			t.Error("mobile tab has no touch input")
		}
		path := filepath.Join(t.ArtifactDir(), "page-mobile.png")
		m.Screenshot(t, path)
		checkPNG(t, path, browser.MobileWidth)

		// Each tab keeps its own errors; the mobile one has only its own
		// page's violation.
		if errs := m.ConsoleErrors(); len(errs) != 1 || !strings.Contains(errs[0], "Content Security Policy") {
			t.Errorf("mobile console errors = %q, want the one violation", errs)
		}
	})
}

// TestFailure checks what a failed step leaves: a message that says what
// and why, and a screenshot named after the test.
func TestFailure(t *testing.T) {
	shots := t.TempDir()
	t.Setenv("ORC_SCREENSHOTS", shots)
	srv := newServer(t)
	b := browser.New(t)
	b.Navigate(t, srv.URL+"/")

	rec := &recorder{TB: t}
	start := time.Now()
	b.WithTimeout(time.Second).WaitVisible(rec, "#missing")
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("the failed step took %v with a 1s timeout", waited)
	}
	if !strings.Contains(rec.msg, "wait for #missing to be visible: timed out after 1s") {
		t.Errorf("failure message = %q, want it to name the step and the timeout", rec.msg)
	}
	if !strings.Contains(rec.msg, "Content Security Policy") {
		t.Errorf("failure message = %q, want the console errors in it", rec.msg)
	}
	checkPNG(t, filepath.Join(shots, "TestFailure-desktop.png"), browser.DesktopWidth)
}

// recorder stands for a test that fails: it keeps the message of Fatal
// instead of stopping.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Fatal(args ...any) { r.msg = fmt.Sprint(args...) }

func checkPNG(t *testing.T, path string, width int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s (%d bytes) is not a PNG: %v", path, len(data), err)
	}
	if got := img.Bounds().Dx(); got != width {
		t.Errorf("%s is %d px wide, want %d", path, got, width)
	}
	t.Logf("%s: %v, %d bytes", path, img.Bounds().Size(), len(data))
}
