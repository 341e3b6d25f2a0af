//go:build extra

package main

const extra = "on"
