// Package docs keeps the repository's READMEs true: its test runs, in a
// fresh directory, the commands a reader would paste from each README and
// checks every command named in the text.
//
// What the test does with each kind of block and code span:
//
//   - A ```sh fence holds commands to paste in order. They run one by one
//     in bash, in a temporary directory that holds the repository's
//     top-level entries (so testdata/ and stageNN-*/ paths work), with
//     `go run ./stageNN-name` replaced by that stage's binary (built once)
//     and /tmp/ replaced by a directory of the test's own. Each must exit
//     0, unless its comment says "exit status N".
//   - A ```sh server fence needs a running server or a second terminal
//     (start, curl, a real Prometheus): it is not run. A ```sh long fence
//     runs for more than a few seconds (a demo at the guide's full scale): it
//     runs only with DOCS_LONG=1.
//   - Other fences (```console, ```text, ```go, ```yaml, none) are output,
//     code or data: not run.
//   - Every `go test` command, in a fence or a code span, is checked
//     without running it: its packages exist and each -run, -bench, -list
//     or -fuzz pattern names at least one function of those packages.
//   - Every `go run ./stageNN-name …` code span outside a fence is run with
//     -h added: the subcommand and its flags must exist.
package docs
