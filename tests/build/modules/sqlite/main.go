// Command sqlite opens an in-memory database with github.com/mattn/go-sqlite3 (SQLite compiled
// from C by cgo) and prints the SQLite version: it runs only when built with cgo.
package main

import (
	"database/sql"
	"fmt"
	"os"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var version string
	if err := db.QueryRow("select sqlite_version()").Scan(&version); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("sqlite", version)
}
