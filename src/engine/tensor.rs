//! Row-major f32 matrix views over slices. A view is (rows, cols, row stride, column stride);
//! a transpose is the same slice with the strides swapped, so no data ever moves.

/// A read-only matrix view: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

/// A mutable matrix view: element (r, c) is `data[r * rs + c * cs]`.
#[derive(Debug)]
pub struct MatrixMut<'a> {
    pub data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

/// The smallest slice length that holds every element of a rows×cols view with these strides.
pub(crate) fn span(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

impl<'a> Matrix<'a> {
    /// A contiguous row-major rows×cols view of the first rows·cols elements.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix {rows}x{cols} over a slice of {}", data.len());
        Matrix { data, rows, cols, rs: cols, cs: 1 }
    }
    /// The transpose: same data, strides swapped.
    pub fn t(self) -> Matrix<'a> {
        Matrix { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.rs + c * self.cs]
    }
    /// Rows `start..start + n` as a view.
    pub fn rows_range(self, start: usize, n: usize) -> Matrix<'a> {
        assert!(start + n <= self.rows);
        let off = if n == 0 { 0 } else { start * self.rs };
        Matrix { data: &self.data[off..], rows: n, ..self }
    }
}

impl<'a> MatrixMut<'a> {
    /// A contiguous row-major rows×cols view of the first rows·cols elements.
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix {rows}x{cols} over a slice of {}", data.len());
        MatrixMut { data, rows, cols, rs: cols, cs: 1 }
    }
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.rs + c * self.cs]
    }
    pub fn as_ref(&self) -> Matrix<'_> {
        Matrix { data: self.data, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs }
    }
}

/// The shape of one row (one jet) of a tensor: a feature vector, or channels × height × width
/// (jet images). A batch is N rows of this shape, stored row after row; a row's values are
/// contiguous, C-order for images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// (N, F): F features per row.
    Features(usize),
    /// (N, C, H, W).
    Image { c: usize, h: usize, w: usize },
}

impl Shape {
    /// Values per row.
    pub fn len(self) -> usize {
        match self {
            Shape::Features(f) => f,
            Shape::Image { c, h, w } => c * h * w,
        }
    }
    /// Whether a row holds no values.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// A batch of `n` rows of `shape`, read-only: `data[..n · shape.len()]`.
#[derive(Clone, Copy, Debug)]
pub struct Tensor<'a> {
    pub data: &'a [f32],
    pub n: usize,
    pub shape: Shape,
}

impl<'a> Tensor<'a> {
    /// The first `n` rows of `data` as rows of `shape`. Panics if `data` is too short.
    pub fn new(data: &'a [f32], n: usize, shape: Shape) -> Self {
        let len = n * shape.len();
        assert!(data.len() >= len, "tensor of {n} rows × {shape:?} over a slice of {}", data.len());
        Tensor { data: &data[..len], n, shape }
    }
    /// The rows as an N × (values per row) matrix.
    pub fn matrix(self) -> Matrix<'a> {
        Matrix::new(self.data, self.n, self.shape.len())
    }
}

/// A batch of `n` rows of `shape`, writable.
#[derive(Debug)]
pub struct TensorMut<'a> {
    pub data: &'a mut [f32],
    pub n: usize,
    pub shape: Shape,
}

impl<'a> TensorMut<'a> {
    /// The first `n` rows of `data` as rows of `shape`. Panics if `data` is too short.
    pub fn new(data: &'a mut [f32], n: usize, shape: Shape) -> Self {
        let len = n * shape.len();
        assert!(data.len() >= len, "tensor of {n} rows × {shape:?} over a slice of {}", data.len());
        TensorMut { data: &mut data[..len], n, shape }
    }
}
