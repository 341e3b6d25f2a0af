// Package lib is the workspace's second module.
package lib

// Name is what app prints.
func Name() string { return "lib-from-workspace" }
