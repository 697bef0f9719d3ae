package schemaform

import _ "embed"

// Script is form.js, the page script that adds and removes array items and
// switches the alternatives of a choice. Serve it as a file of its own
// (Content-Type text/javascript) and load it with <script src defer>: it
// needs no inline script or style, and reads only the data-sf-*
// attributes HTML writes. Without it the form still posts, but arrays
// keep the items they were rendered with and a choice its alternative.
//
//go:embed form.js
var Script []byte
