//go:build !linux

package main

import "errors"

// inNamespace needs Linux's network namespaces, as -shaping tc does.
func inNamespace(string, func() error) error {
	return errors.New("network namespaces are Linux's")
}
