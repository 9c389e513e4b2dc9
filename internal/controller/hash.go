package controller

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
)

// ComputeHash is upstream's template hash (a Deployment's
// pod-template-hash, a DaemonSet's controller-revision-hash): FNV-32a
// over the template's deep dump (dump.ForHash), then the collision count
// as four little-endian bytes padded to eight, printed in decimal and
// encoded with rand.SafeEncodeString (no vowels, no look-alikes).
func ComputeHash(template *v1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	_, _ = io.WriteString(h, dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		_, _ = h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
