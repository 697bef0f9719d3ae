package hook

// handler is the hook's handler, set by Handle.
var handler func(Request) Reply

// Handle makes fn the hook's handler. Call it from init: a hook is a reactor
// module, whose main does not run.
func Handle(fn func(Request) Reply) { handler = fn }

// reqDoc is the document of the request being served, reused from call to
// call: a guest serves one call at a time.
var reqDoc doc

// serve answers one request: it appends the reply JSON to dst. A panic in
// the handler is not recovered: the host discards the instance and fails
// the invocation ("hook X failed: panic"), which a retry cannot hide.
func serve(dst, req []byte) []byte {
	if handler == nil {
		return Deny(500, "hook has no handler: call hook.Handle from init").AppendJSON(dst)
	}
	reqDoc.b = req
	return handler(Request{d: &reqDoc}).AppendJSON(dst)
}
