// Package dep is vendored into example.com/vendored.
package dep

// Word is what main prints.
func Word() string { return "from-vendor" }
