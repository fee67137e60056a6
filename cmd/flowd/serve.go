package main

import "errors"

// runServe is the 'flowd serve' command. Not built yet.
func runServe(args []string) error { return errors.New("serve: not implemented yet") }
