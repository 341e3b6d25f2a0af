//go:build !extra

package main

const extra = "off"
