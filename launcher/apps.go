package launcher

import "sync"

// App is what the daemon needs to know of a registered app.
type App struct {
	ID          string
	Name        string
	RootDir     string // name of its private root in the store
	SharedDrive bool   // may use SAFEDrive
}

// Apps is the daemon's view of the app registry. It is consulted at each
// request, so changes apply to live sessions at once.
type Apps interface {
	// App returns the registered app with this id.
	App(id string) (App, bool)
}

// MemApps is an in-memory Apps, for tests and embedding. It is safe for
// concurrent use.
type MemApps struct {
	mu   sync.RWMutex
	apps map[string]App
}

var _ Apps = (*MemApps)(nil)

// NewMemApps returns an empty MemApps.
func NewMemApps() *MemApps { return &MemApps{apps: map[string]App{}} }

// Put adds or replaces an app.
func (m *MemApps) Put(a App) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apps[a.ID] = a
}

// Delete removes an app.
func (m *MemApps) Delete(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.apps, id)
}

// App implements Apps.
func (m *MemApps) App(id string) (App, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	a, ok := m.apps[id]
	return a, ok
}
