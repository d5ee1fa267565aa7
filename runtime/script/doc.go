// Package script loads hwebserver scripts: [Loader] executes the main
// script and the files it load()s, once each per generation, with cycle
// errors; [ParseScript] is the Python-like dialect ([FileOptions]) plus
// decorators, rewritten on the syntax tree with the original line numbers;
// [FormatError] and [Backtrace] turn Starlark errors into file:line:col
// text. A Loader is not safe for concurrent use; a load runs on one
// goroutine.
package script
