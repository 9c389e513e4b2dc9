package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Limits of the container image reference grammar the API server parses
// images with (the distribution/reference grammar, read through Docker's
// normalisation of short names).
const (
	// maxImageNameLength bounds the fully qualified repository name,
	// domain included.
	maxImageNameLength = 255
	// maxTagLength bounds a tag.
	maxTagLength = 128
	// minDigestHexLength is the shortest encoded digest the grammar accepts.
	minDigestHexLength = 32
	// defaultImageDomain and officialRepoPrefix are what a short name such
	// as "nginx" is expanded with: docker.io/library/nginx.
	defaultImageDomain  = "docker.io"
	legacyImageDomain   = "index.docker.io"
	officialRepoPrefix  = "library/"
	defaultImageTag     = "latest"
	localhostImageHost  = "localhost"
	identifierHexLength = 64
)

// defaultPullPolicy returns the imagePullPolicy the API server gives a
// container (or image volume) that names image and sets no policy:
// Always when the image's tag is "latest", including an image that names
// neither a tag nor a digest and so means ":latest"; IfNotPresent
// otherwise, including a digest-only reference and a reference that does
// not parse (the API server ignores the parse error and sees no tag;
// validation rejects such an image separately).
func defaultPullPolicy(image string) corev1.PullPolicy {
	if tag, ok := imageTag(image); ok && tag == defaultImageTag {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// imageTag parses image the way the API server does and returns the tag it
// pulls: the tag written in the reference, "latest" when the reference
// names neither a tag nor a digest, and "" when it names only a digest.
// ok is false when image is not a valid reference.
func imageTag(image string) (tag string, ok bool) {
	if isHex(image, identifierHexLength, false) {
		// A bare 64-hex string is an image ID, not a name.
		return "", false
	}
	domain, remainder := splitImageDomain(image)
	remoteName := remainder
	if i := strings.IndexByte(remainder, ':'); i >= 0 {
		remoteName = remainder[:i]
	}
	if strings.ToLower(remoteName) != remoteName {
		return "", false
	}
	name, tag, digest, ok := splitReference(domain + "/" + remainder)
	if !ok || !validRepositoryName(name) || len(name) > maxImageNameLength {
		return "", false
	}
	if tag != "" && !validTag(tag) {
		return "", false
	}
	if digest != "" && !validDigest(digest) {
		return "", false
	}
	if tag == "" && digest == "" {
		tag = defaultImageTag
	}
	return tag, true
}

// splitImageDomain separates the registry host from the rest of a
// reference, expanding a short name to docker.io (and docker.io/library/
// for a single-component name), as Docker's normalisation does. The first
// path component is a registry host only when it contains '.' or ':', is
// "localhost", or has an upper-case letter.
func splitImageDomain(image string) (domain, remainder string) {
	i := strings.IndexByte(image, '/')
	if i < 0 || (!strings.ContainsAny(image[:i], ".:") && image[:i] != localhostImageHost && strings.ToLower(image[:i]) == image[:i]) {
		domain, remainder = defaultImageDomain, image
	} else {
		domain, remainder = image[:i], image[i+1:]
	}
	if domain == legacyImageDomain {
		domain = defaultImageDomain
	}
	if domain == defaultImageDomain && !strings.ContainsRune(remainder, '/') {
		remainder = officialRepoPrefix + remainder
	}
	return domain, remainder
}

// splitReference splits "name[:tag][@digest]" into its parts. ok is false
// when the reference holds more than one '@'.
func splitReference(ref string) (name, tag, digest string, ok bool) {
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		digest = ref[at+1:]
		ref = ref[:at]
		if digest == "" || strings.IndexByte(digest, '@') >= 0 {
			return "", "", "", false
		}
	}
	// A ':' after the last '/' starts the tag; one before it is a port.
	if colon := strings.LastIndexByte(ref, ':'); colon > strings.LastIndexByte(ref, '/') {
		tag = ref[colon+1:]
		ref = ref[:colon]
		if tag == "" {
			return "", "", "", false
		}
	}
	return ref, tag, digest, true
}

// validRepositoryName reports whether name is "[domain/]path" where path
// is one or more '/'-separated path components.
func validRepositoryName(name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return false
	}
	if !validImageDomain(parts[0]) && !validPathComponent(parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if !validPathComponent(p) {
			return false
		}
	}
	return true
}

// validImageDomain reports whether s is host[:port], where host is a
// dotted DNS-style name (upper case allowed) or a bracketed IPv6 address.
func validImageDomain(s string) bool {
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, s = s[:end+1], s[end+1:]
		inner := host[1 : len(host)-1]
		if inner == "" || strings.Trim(inner, "0123456789abcdefABCDEF:") != "" {
			return false
		}
	} else {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, s = s[:i], s[i:]
		} else {
			s = ""
		}
		for _, label := range strings.Split(host, ".") {
			if !validDomainLabel(label) {
				return false
			}
		}
	}
	if s == "" {
		return true
	}
	port := s[1:]
	return s[0] == ':' && port != "" && strings.Trim(port, "0123456789") == ""
}

// validDomainLabel reports whether s is alphanumerics with inner hyphens.
func validDomainLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

// validPathComponent reports whether s is lower-case alphanumeric runs
// joined by a separator: '.', '_', "__", or one or more '-'.
func validPathComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && isLowerAlnum(s[i]) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		switch {
		case s[i] == '.':
			i++
		case strings.HasPrefix(s[i:], "__"):
			i += 2
		case s[i] == '_':
			i++
		case s[i] == '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// validTag reports whether s matches [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(s string) bool {
	if s == "" || len(s) > maxTagLength || !isWord(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isWord(s[i]) && s[i] != '.' && s[i] != '-' {
			return false
		}
	}
	return true
}

// validDigest reports whether s is "algorithm:hex" with an algorithm the
// API server can verify (sha256, sha384, sha512) and an encoded value of
// exactly that algorithm's length in lower-case hex.
func validDigest(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return false
	}
	algorithm, encoded := s[:colon], s[colon+1:]
	if len(encoded) < minDigestHexLength || !isHex(encoded, len(encoded), true) {
		return false
	}
	var want int
	switch algorithm {
	case "sha256":
		want = 64
	case "sha384":
		want = 96
	case "sha512":
		want = 128
	default:
		return false
	}
	return isHex(encoded, want, false)
}

// isHex reports whether s is exactly n hex digits, lower case unless
// anyCase.
func isHex(s string, n int, anyCase bool) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case anyCase && c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func isAlnum(c byte) bool { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z') }

func isWord(c byte) bool { return isAlnum(c) || c == '_' }
