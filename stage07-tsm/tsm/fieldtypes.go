package tsm

import "fmt"

// learnTypes records the type of every key of r.
func (e *Engine) learnTypes(r *Reader) error {
	e.typesMu.Lock()
	defer e.typesMu.Unlock()
	for i := range r.KeyCount() {
		k, t, _, err := r.entryAt(i)
		if err != nil {
			return err
		}
		if _, ok := e.types[string(k)]; !ok {
			if err := e.series.add(string(k), t); err != nil {
				return fmt.Errorf("%s: %w", r.Path(), err)
			}
			e.types[string(k)] = t
		}
	}
	return nil
}

// checkTypes rejects a batch with a key whose type differs from the type
// the key already has, and records the types of new keys.
func (e *Engine) checkTypes(b *Batch) error {
	e.typesMu.RLock()
	fresh := false
	for i, k := range b.keys {
		t, ok := e.types[k]
		if !ok {
			fresh = true
			continue
		}
		if t != b.vals[i].Type {
			e.typesMu.RUnlock()
			return fmt.Errorf("%w: %s is %v, write has %v", ErrFieldType, k, t, b.vals[i].Type)
		}
	}
	e.typesMu.RUnlock()
	if !fresh {
		return nil
	}
	e.typesMu.Lock()
	defer e.typesMu.Unlock()
	for i, k := range b.keys { // again: another writer may have added a key meanwhile
		if t, ok := e.types[k]; ok && t != b.vals[i].Type {
			return fmt.Errorf("%w: %s is %v, write has %v", ErrFieldType, k, t, b.vals[i].Type)
		}
	}
	for i, k := range b.keys {
		if _, ok := e.types[k]; !ok {
			if err := e.series.add(k, b.vals[i].Type); err != nil {
				return err
			}
			e.types[k] = b.vals[i].Type
		}
	}
	return nil
}
