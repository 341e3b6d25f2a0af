package main

import (
	"fmt"

	"example.com/cdep"
)

func main() { fmt.Println(cdep.Answer()) }
