use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A syntax, type or consistency error, located in the file.
    #[error("{}:{line}: {field}: {message}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
}
