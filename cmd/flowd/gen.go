package main

import "errors"

// runGen is the 'flowd gen' command. Not built yet.
func runGen(args []string) error { return errors.New("gen: not implemented yet") }
