package reader

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
)

// DuplicateContent finds files with the same content among files (a DMS
// file delivered twice under two names). Only files of equal size are
// read, so the usual case costs nothing. It returns the first pair found,
// in stream order, or nil.
func DuplicateContent(ctx context.Context, src Source, files []File) ([2]File, bool, error) {
	bySize := map[int64][]int{}
	for i, f := range files {
		if f.Size > 0 {
			bySize[f.Size] = append(bySize[f.Size], i)
		}
	}
	seen := map[[sha256.Size]byte]int{}
	for i, f := range files {
		if len(bySize[f.Size]) < 2 {
			continue
		}
		sum, err := contentHash(ctx, src, f)
		if err != nil {
			return [2]File{}, false, err
		}
		if j, ok := seen[sum]; ok {
			return [2]File{files[j], f}, true, nil
		}
		seen[sum] = i
	}
	return [2]File{}, false, nil
}

func contentHash(ctx context.Context, src Source, f File) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	r, _, err := src.Open(ctx, f.Path)
	if err != nil {
		return sum, fmt.Errorf("file %s: %w", f.Path, err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, f.Size)); err != nil {
		return sum, fmt.Errorf("file %s: %w", f.Path, err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}
