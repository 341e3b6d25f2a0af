package main

import (
	"fmt"
	"os"
	"strings"

	"example.com/multi/internal/version"
)

func main() {
	fmt.Printf("server version=%s extra=%s greeting=%s args=%s\n",
		version.Version, extra, os.Getenv("GREETING"), strings.Join(os.Args[1:], ","))
}
