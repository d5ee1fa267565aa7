package settings

import (
	"path/filepath"

	"go.starlark.net/starlark"
)

// LoadFor reads the settings file that run()'s settings parameter names
// (name; "": none, nil). A relative name resolves against the directory
// of the main script, mainScript (the CLI makes --settings absolute first,
// so it is relative to the working directory).
func LoadFor(name, mainScript string, printFn func(*starlark.Thread, string)) (*Settings, error) {
	if name == "" {
		return nil, nil
	}
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(mainScript), name)
	}
	return Load(name, printFn)
}

// BindAddress is the address to bind: typed (--address) wins over the
// settings' ADDRESS; "" when neither names one. st may be nil.
func (st *Settings) BindAddress(typed string) string {
	if typed == "" && st != nil {
		return st.Address
	}
	return typed
}

// TemplatesFolder is the folder of the templates of the app in appDir:
// the one TEMPLATES_DIR names, relative to appDir, or templates/ in it.
// st may be nil.
func (st *Settings) TemplatesFolder(appDir string) string {
	dir := "templates"
	if st != nil && st.TemplatesDir != "" {
		dir = st.TemplatesDir
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(appDir, dir)
	}
	return dir
}

// SaveRoots are the folders UploadedFile.saveAs may write under for the
// app in appDir: appDir, and UPLOAD_DIR. st may be nil.
func (st *Settings) SaveRoots(appDir string) []string {
	if st != nil && st.UploadDir != "" {
		return []string{appDir, st.UploadDir}
	}
	return []string{appDir}
}
