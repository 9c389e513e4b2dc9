package containerd

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// PauseImage is the sandbox image Skiff ships and imports into containerd at
// start, so that no node ever pulls one. Its only file, /pause, is a static
// ELF of a few instructions generated below; the tag is Skiff's pause
// version, bumped whenever those bytes change.
const PauseImage = "skiff.local/pause:1.0"

// pauseCode is the machine code of /pause per architecture: wait for a
// signal, forever. A sandbox is stopped with SIGKILL, so it needs no
// handler; it reaps nothing, as Skiff's pods do not share a PID namespace.
var pauseCode = map[string][]byte{
	// loop: mov eax, 34 (pause); syscall; jmp loop
	"amd64": {0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7},
	// arm64 has no pause(2): ppoll(NULL, 0, NULL, NULL) waits the same way.
	// loop: mov x0..x3, #0; mov x8, #73 (ppoll); svc #0; b loop
	"arm64": armWords(0xd2800000, 0xd2800001, 0xd2800002, 0xd2800003, 0xd2800928, 0xd4000001, 0x17fffffa),
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func armWords(ws ...uint32) []byte {
	b := make([]byte, 4*len(ws))
	for i, w := range ws {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

// pauseELF is a static little-endian ELF64 executable of one loadable
// segment: the header, one program header, then the code. It is written
// by hand because no toolchain exists at run time and a committed binary
// would be opaque.
func pauseELF(arch string) ([]byte, error) {
	code, ok := pauseCode[arch]
	if !ok {
		return nil, fmt.Errorf("no pause program for architecture %q (have amd64, arm64)", arch)
	}
	const base = 0x400000
	hdrSize := binary.Size(elf.Header64{})
	phSize := binary.Size(elf.Prog64{})
	entry := uint64(base + hdrSize + phSize)
	total := uint64(hdrSize + phSize + len(code))
	h := elf.Header64{
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(elfMachine[arch]),
		Version:   uint32(elf.EV_CURRENT),
		Entry:     entry,
		Phoff:     uint64(hdrSize),
		Ehsize:    uint16(hdrSize),
		Phentsize: uint16(phSize),
		Phnum:     1,
	}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	h.Ident[elf.EI_OSABI] = byte(elf.ELFOSABI_NONE)
	p := elf.Prog64{
		Type:   uint32(elf.PT_LOAD),
		Flags:  uint32(elf.PF_R | elf.PF_X),
		Vaddr:  base,
		Paddr:  base,
		Filesz: total,
		Memsz:  total,
		Align:  0x1000,
	}
	var b bytes.Buffer
	for _, v := range []any{h, p} {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			return nil, err
		}
	}
	b.Write(code)
	return b.Bytes(), nil
}

// pauseImage is PauseImage for arch: one layer holding /pause.
func pauseImage(arch string) (v1.Image, error) {
	bin, err := pauseELF(arch)
	if err != nil {
		return nil, err
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	// A fixed time keeps the image's digest stable across builds.
	mtime := time.Unix(0, 0)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(bin)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: mtime}
	cf.Config.Entrypoint = []string{"/pause"}
	cf.Config.User = "65535:65535"
	return mutate.ConfigFile(img, cf)
}

// pauseArchive is PauseImage for this machine as a docker-archive tar.
func pauseArchive() ([]byte, error) {
	img, err := pauseImage(runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	ref, err := name.NewTag(PauseImage)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tarball.Write(ref, img, &b); err != nil {
		return nil, fmt.Errorf("write pause image: %w", err)
	}
	return b.Bytes(), nil
}
