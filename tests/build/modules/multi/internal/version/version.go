// Package version holds the version the linker sets with -X.
package version

// Version is set at link time.
var Version = "unset"
