// Package cli holds what every stage's command line has in common, so that
// fifteen demos behave alike and none re-implements it: numbers printed the
// way the guide prints them (1,000,000; 12.3ms), progress lines for long work,
// flags allowed anywhere among the arguments, and one mapping from errors to
// exit statuses ("error: …" on stderr, 2 for bad usage, 1 for failures).
package cli
