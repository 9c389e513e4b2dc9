package testimage

import (
	"io"
	"log"
	"runtime"
)

const goarch = runtime.GOARCH

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }
