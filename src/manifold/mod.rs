//! Manifold learning for the spectral-embedding families: exact k-nearest neighbours
//! ([`knn`]), the neighbourhood graph and its normalised Laplacian ([`graph`]), a sparse
//! symmetric eigensolver ([`eigen`]), and Laplacian eigenmaps with their Nyström extension
//! ([`embed`]). Nothing here holds an N × N matrix.

pub mod eigen;
pub mod embed;
pub mod graph;
pub mod knn;
