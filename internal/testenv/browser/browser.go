package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Window sizes: a laptop's window for the desktop tab, and the width of the
// narrowest phones still common (iPhone SE/mini class) for the mobile tab.
const (
	DesktopWidth  = 1280
	DesktopHeight = 900
	MobileWidth   = 375
	MobileHeight  = 812
)

// DefaultTimeout bounds each step. It is generous for a page served from
// loopback because CI's two cores may be busy with the rest of the suite.
const DefaultTimeout = 15 * time.Second

// startTimeout bounds Chromium's start and its first tab; failureShotTimeout
// bounds the screenshot taken after a failed step, which must not hang a
// test that is already failing.
const (
	startTimeout       = time.Minute
	failureShotTimeout = 5 * time.Second
)

// Browser is one tab of a headless Chromium that a test drives. [New] opens
// the desktop tab; [Browser.Mobile] opens a phone-sized one in the same
// browser.
type Browser struct {
	ctx     context.Context // the tab's chromedp context
	root    context.Context // the first tab's; new tabs are its children
	label   string          // "desktop" or "mobile", in failure screenshots' names
	timeout time.Duration
	console *consoleLog
}

// New starts headless Chromium for the test and returns its desktop tab,
// [DesktopWidth] by [DesktopHeight]. Chromium is stopped and its profile
// removed when the test ends.
//
// # Errors
//
// New fails the test (never skips it) when Chromium is not installed, with
// the script that installs it, or when it does not start; the failure
// quotes the end of Chromium's output.
func New(t testing.TB) *Browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		t.Fatalf("browser: %v", err)
	}

	out := &tailBuffer{max: 4 << 10}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(DesktopWidth, DesktopHeight),
		chromedp.CombinedOutput(out),
		// Chromium will not run as root with its sandbox ("Running as root
		// without --no-sandbox is not supported"), and CI runs as root.
		// Elsewhere the sandbox stays on. (chromedp would add the flag for
		// root by itself; saying so here keeps the rule in sight.)
		chromedp.Flag("no-sandbox", os.Geteuid() == 0),
	)
	// The browser lives until the test's cleanup, which runs after
	// t.Context() is canceled, so its context keeps the test's values but
	// not its cancellation.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()), opts...)
	log := &consoleLog{}
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(log.record))
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("browser: closing chromium: %v", err)
		}
		cancelTab()
		cancelAlloc() // waits for the process to exit
	})

	start := time.Now()
	if err := open(ctx, cancelTab); err != nil {
		t.Fatalf("browser: starting %s: %v\nchromium's output ends with:\n%s", path, err, out)
	}
	t.Logf("browser: %s started in %v", path, time.Since(start).Round(time.Millisecond))
	b := &Browser{ctx: ctx, root: ctx, label: "desktop", timeout: DefaultTimeout, console: log}
	// Headless Chromium still takes room for a window's frame and toolbar
	// out of --window-size (the page got 1280x757 of 1280x900), so the
	// viewport is set exactly.
	b.Run(t, chromedp.EmulateViewport(DesktopWidth, DesktopHeight))
	return b
}

// Mobile opens a second tab in the same browser, [MobileWidth] by
// [MobileHeight] CSS pixels, emulating a phone: a mobile viewport (pages
// without <meta name="viewport" content="width=device-width"> lay out 980 px
// wide, as on a phone) and touch input. It shares the desktop tab's cookies
// and storage, so a signed-in test stays signed in. The tab is closed when
// the test ends.
func (b *Browser) Mobile(t testing.TB) *Browser {
	t.Helper()
	log := &consoleLog{}
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithListener(log.record))
	t.Cleanup(cancel)
	if err := open(ctx, cancel); err != nil {
		t.Fatalf("browser: opening the mobile tab: %v", err)
	}
	m := &Browser{ctx: ctx, root: b.root, label: "mobile", timeout: b.timeout, console: log}
	m.Run(t, chromedp.EmulateViewport(MobileWidth, MobileHeight,
		chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	return m
}

// open opens the tab of ctx (and starts the browser, for the first tab).
// chromedp ties a tab's life, and the first tab's browser's, to the context
// of the first call on it, so that call cannot carry a deadline: a timer
// that cancels the tab bounds it instead.
func open(ctx context.Context, cancel context.CancelFunc) error {
	timer := time.AfterFunc(startTimeout, cancel)
	err := chromedp.Do(ctx)
	if !timer.Stop() {
		return fmt.Errorf("no tab after %v: %w", startTimeout, err)
	}
	return err
}

// WithTimeout returns the same tab with each step bounded by d instead.
// The receiver is unchanged.
func (b *Browser) WithTimeout(d time.Duration) *Browser {
	c := *b
	c.timeout = d
	return &c
}

// ConsoleErrors returns what the tab logged as an error since it opened, one
// line each: the kind, the text and where it came from. See the package
// notes for what counts.
func (b *Browser) ConsoleErrors() []string {
	return b.console.errors()
}

// step runs the actions in order under the tab's timeout.
func (b *Browser) step(actions ...chromedp.Action[chromedp.Void]) error {
	_, err := run(b, chromedp.Steps(actions...))
	return err
}

// fail ends the test after a failed step, with a screenshot of the tab and
// the console errors so far: most failures of a page test are explained by
// one or the other.
func (b *Browser) fail(t testing.TB, what string, err error) {
	t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", b.timeout, err)
	}
	msg := fmt.Sprintf("browser (%s tab): %s: %v", b.label, what, err)
	if shot, serr := b.failureScreenshot(t); serr != nil {
		msg += fmt.Sprintf("\n(no screenshot: %v)", serr)
	} else {
		msg += "\nscreenshot: " + shot
	}
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		msg += "\nconsole errors:\n\t" + strings.Join(errs, "\n\t")
	}
	t.Fatal(msg)
}

var unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func (b *Browser) failureScreenshot(t testing.TB) (string, error) {
	dir := os.Getenv("ORC_SCREENSHOTS")
	if dir == "" {
		dir = t.ArtifactDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, unsafeNameChars.ReplaceAllString(t.Name(), "_")+"-"+b.label+".png")
	ctx, cancel := context.WithTimeout(b.ctx, failureShotTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, png, 0o644)
}

// chromiumPath finds Debian's chromium: ORC_CHROMIUM, or `chromium` on PATH.
func chromiumPath() (string, error) {
	name := os.Getenv("ORC_CHROMIUM")
	if name == "" {
		name = "chromium"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("chromium not found (%v): run deploy/local/test-deps.sh, which installs Debian's chromium, or set ORC_CHROMIUM", err)
	}
	return path, nil
}

// tailBuffer keeps the last max bytes written to it: Chromium's output,
// quoted when it fails to start and otherwise dropped (it is mostly D-Bus
// warnings on a machine without a session bus).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
