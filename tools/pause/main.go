// Command pause is the process of a pod's sandbox container: it holds the
// pod's namespaces open and does nothing else. It sleeps until SIGTERM or
// SIGINT (blocked in the runtime's signal wait, never spinning) and then
// exits 0. Zombie reaping is not needed: the test cluster does not share the
// pod's PID namespace.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped by scripts/ensure-k8s-tools.sh (-X main.version=...).
var version = "dev"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version", "version":
			fmt.Println("pause", version)
			return
		default:
			fmt.Fprintln(os.Stderr, "usage: pause [--version]")
			os.Exit(2)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
}
