package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// Navigate loads url in the tab and waits for its load event. An HTTP error
// status is not a failure: use [Result] with chromedp.NavigateResponse to
// check the status.
func (b *Browser) Navigate(t testing.TB, url string) {
	t.Helper()
	if err := b.step(chromedp.Navigate(url)); err != nil {
		b.fail(t, "navigate to "+url, err)
	}
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (b *Browser) WaitVisible(t testing.TB, selector string) {
	t.Helper()
	if err := b.step(chromedp.WaitVisible(chromedp.CSS(selector))); err != nil {
		b.fail(t, "wait for "+selector+" to be visible", err)
	}
}

// Click waits until the first element matching the CSS selector is visible
// and clicks its center with the mouse.
func (b *Browser) Click(t testing.TB, selector string) {
	t.Helper()
	if err := b.step(chromedp.Click(chromedp.CSS(selector))); err != nil {
		b.fail(t, "click "+selector, err)
	}
}

// SetValue sets the value of the first form field matching the CSS selector,
// replacing what it held, without typing.
func (b *Browser) SetValue(t testing.TB, selector, value string) {
	t.Helper()
	if err := b.step(chromedp.SetValue(chromedp.CSS(selector), value)); err != nil {
		b.fail(t, "set the value of "+selector, err)
	}
}

// SendKeys focuses the first element matching the CSS selector and types
// text into it, key by key, after what it holds ("\n" is Enter).
func (b *Browser) SendKeys(t testing.TB, selector, text string) {
	t.Helper()
	if err := b.step(chromedp.SendKeys(chromedp.CSS(selector), text)); err != nil {
		b.fail(t, "type into "+selector, err)
	}
}

// Text returns the rendered text (innerText) of the first element matching
// the CSS selector, waiting until one exists.
func (b *Browser) Text(t testing.TB, selector string) string {
	t.Helper()
	s, err := run(b, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		b.fail(t, "read the text of "+selector, err)
	}
	return s
}

// Eval evaluates the JavaScript expression in the page and decodes its value
// as JSON into out; out nil ignores the value.
func (b *Browser) Eval(t testing.TB, js string, out any) {
	t.Helper()
	if out == nil {
		if err := b.step(chromedp.Evaluate[chromedp.Void](js)); err != nil {
			b.fail(t, "evaluate "+js, err)
		}
		return
	}
	raw, err := run(b, chromedp.Evaluate[[]byte](js))
	if err == nil {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		b.fail(t, "evaluate "+js, err)
	}
}

// Screenshot saves a PNG of the whole page, beyond the window if the page is
// taller, at path.
func (b *Browser) Screenshot(t testing.TB, path string) {
	t.Helper()
	png, err := run(b, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		b.fail(t, "screenshot to "+path, err)
	}
}

// Run runs chromedp actions that return nothing, in order, under the tab's
// timeout, for the steps this package does not wrap.
func (b *Browser) Run(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := b.step(actions...); err != nil {
		b.fail(t, fmt.Sprintf("run %d action(s)", len(actions)), err)
	}
}

// Result runs one chromedp action that returns a value, such as
// chromedp.Title() or chromedp.NavigateResponse(url), under the tab's
// timeout, and returns its value.
func Result[T any](t testing.TB, b *Browser, action chromedp.Action[T]) T {
	t.Helper()
	v, err := run(b, action)
	if err != nil {
		b.fail(t, fmt.Sprintf("run an action returning %T", v), err)
	}
	return v
}

// run runs the action under the tab's timeout.
func run[T any](b *Browser, action chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
	defer cancel()
	return chromedp.Run(ctx, action)
}
