// Package schemaform turns a plugin version's input_schema (JSON Schema,
// docs/plugins.md) into the HTML form of the console's "Try it" page, and
// the posted form back into the input document.
//
//	form, err := schemaform.New(version.InputSchema) // once per version
//	page.Fields = form.HTML(nil, nil)                // defaults filled in
//	doc, errs := form.Decode(r.PostForm)             // errs by JSON pointer
//	page.Fields = form.HTML(doc, errs)               // again, with errors
//
// # Field names
//
// A field's name is the JSON pointer (RFC 6901) of the value it holds:
// "/image/width", "/tags/0", "/a~1b" for the member "a/b". Decode reads a
// field back by that name, so the API's error pointers (registry.Problems)
// name the field that holds the offending value, and HTML shows each error
// there. Four kinds of names are not pointers:
//
//   - "~" holds the whole document when it is not an object: a field named
//     "" (the root's pointer) is never posted.
//   - A pointer followed by "~choice" is the select of a oneOf, anyOf or
//     type list: the index of the chosen alternative. No pointer ends in a
//     "~" that is not "~0" or "~1", so the names never clash.
//   - A pointer followed by "~item" is a hidden field in each array item,
//     so that an item that posts nothing else (an empty array) counts.
//   - "-" as an array index is the row in the array's <template>, which
//     form.js copies with a fresh index. Removing an item leaves a gap in
//     the indices; Decode reads items in index order and numbers them
//     from 0, and reports errors at those document pointers.
//
// Element ids derive from the same pointers: "sf", then for each token
// "-" and the token with every byte but letters and digits written as "_"
// and two hex digits ("/a b/0" is "sf-a_20b-0"). A "." followed by digits
// is an alternative of a choice (its fields share the choice's pointer);
// followed by letters, a part of the field: ".label", ".help", ".err",
// ".choice". Controls name their help and errors in aria-describedby and
// carry aria-invalid="true" when they have errors.
//
// # What the form shows
//
// Objects (required members marked), arrays (items with add and remove
// buttons that respect minItems and maxItems; a required array starts
// with minItems empty items), strings (minLength, maxLength, pattern;
// formats email, uri, date, date-time and time as inputs of those types,
// the times in UTC; a textarea for format "textarea", contentMediaType or
// maxLength over 200), numbers and integers (minimum, maximum, exclusive
// bounds and multipleOf as min, max and step), booleans (a checkbox, with
// a hidden "false" beside it when the member is required or defaults to
// true), null and const (shown, not edited), enum (a select), oneOf and
// anyOf and type lists such as ["string", "null"] (a select of the
// alternatives, each shown when chosen; a oneOf of constants is an enum
// labelled by their titles), local $ref ("#/$defs/x", "#/definitions/x",
// any "#/..." pointer) and allOf (merged into one schema: properties
// united, required joined, types intersected). Titles label fields
// (else the member's name), descriptions are help text, defaults are
// filled in, and readOnly members are left out of the form and of the
// document.
//
// Keywords that only narrow the values allowed (not, contains,
// propertyNames, uniqueItems, dependentRequired, ...) are left to the API,
// which checks every input against the schema; Decode only converts.
//
// # What falls back to JSON
//
// A part of the schema the form cannot express becomes a JSON textarea
// for that value alone, saying why, and Supported reports false; the rest
// of the form works as usual. These parts are:
//
//   - patternProperties; additionalProperties or unevaluatedProperties
//     with a schema; if/then/else; tuple items (prefixItems, or items as a
//     list); dependentSchemas; $dynamicRef and $recursiveRef;
//   - a $ref outside the schema or to an anchor; an allOf whose parts
//     disagree on a keyword other than properties, required, type or an
//     annotation; a schema that matches nothing (false);
//   - recursion: a $ref met inside itself is expanded 3 times, then the
//     value is JSON;
//   - what is past a form's bounds: fields nested 32 deep, 10,000 fields
//     and expansions of $ref and allOf (a small schema can name a part
//     twice at every level and so stand for millions of fields).
//
// A value that may be anything ({}, an object without properties, an
// array without items) is a JSON textarea too; that is what the schema
// says, so Supported stays true.
package schemaform
