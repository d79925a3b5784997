// Package lineprotocol parses and writes InfluxDB line protocol, the text
// format in which InfluxDB (and the TSBS files in the repository's testdata/tsbs)
// carry points:
//
//	measurement[,tag=value…] field=value[,field=value…] [timestamp]
//
// Escapes (a backslash before the character):
//
//	measurement   comma, space
//	tag keys,     comma, equals sign, space
//	tag values,
//	field keys
//	string field  double quote, backslash (inside "…")
//
// A backslash before any other character is kept as it is. Field values are
// floats (1, -1.5, 1e3), signed integers with an i suffix (42i), unsigned
// integers with a u suffix (42u), booleans (t, T, true, True, TRUE and the
// same for false) or double-quoted strings. The timestamp, nanoseconds since
// the Unix epoch, is optional. Blank lines and lines starting with # are
// skipped.
//
// The parser does not allocate per point: a Point's byte slices alias the
// input line, or, when a name was escaped, a buffer the Point owns and reuses.
// Errors are *SyntaxError values naming the line and the 1-based column of
// the offending byte; they match ErrSyntax with errors.Is.
//
// Stage 11 (ingestion) reuses this package as its line-protocol front end.
package lineprotocol
