package runtime

import (
	"fmt"
	"path/filepath"

	"github.com/hwebserver/hwebserver/bindings/template"
	"github.com/hwebserver/hwebserver/runtime/settings"
)

// scriptDir is the absolute directory of the main script, against which
// sqlite:PATH resolves.
func scriptDir(script string) string {
	abs, err := filepath.Abs(script)
	if err != nil {
		return filepath.Dir(script)
	}
	return filepath.Dir(abs)
}

// prepareIO reads the settings file given by --settings before the first
// load, so that the top level's http calls and store already follow it,
// and checks --store and STORE now rather than at the first request.
func (s *Server) prepareIO() error {
	if s.opts.Store != "" {
		if err := s.io.Store.Open(); err != nil {
			return fmt.Errorf("--store: %w", err)
		}
	}
	if s.opts.CLI.Settings == "" {
		return nil
	}
	st, err := s.loadSettings(s.opts.CLI)
	if err != nil {
		return err
	}
	s.cliSettings = st
	if st.Store != "" {
		return s.io.Store.Choose(st.Store, st.Path)
	}
	return nil
}

// configureIO applies gen's settings (nil: none) to its modules.
func (s *Server) configureIO(gen *generation, st *settings.Settings) error {
	s.templates(gen) // now, so that live reload watches its files; errors show when a page renders
	return s.io.Configure(gen.http, st)
}

// templates returns gen's templates, loaded once: the folder the settings'
// TEMPLATES_DIR names, relative to the script, or templates/ beside it.
func (s *Server) templates(gen *generation) (*template.Set, error) {
	gen.tmplOnce.Do(func() {
		gen.tmpl, gen.tmplErr = template.Load(s.settingsOf(gen).TemplatesFolder(scriptDir(s.opts.Script)))
	})
	return gen.tmpl, gen.tmplErr
}
