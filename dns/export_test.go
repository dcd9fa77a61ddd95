package dns

// SetFailAfter makes every change of m call f inside its transaction after
// its first rows are written (step names the point); an error f returns
// undoes the change. For tests of the all-or-nothing property.
func SetFailAfter(m *Module, f func(step string) error) { m.failAfter = f }
