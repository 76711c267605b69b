//! One flat f32 buffer for all of a model's parameters; every tensor is a named view into it.
//! The gradient buffer and Adam's moments have the same layout.

/// A named tensor inside the flat buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    /// PyTorch state-dict name, e.g. `encoder.0.weight`.
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
}

impl TensorSpec {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// All parameters of a model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamStore {
    pub data: Vec<f32>,
    pub tensors: Vec<TensorSpec>,
}

impl ParamStore {
    /// Reserves a tensor and returns its offset.
    pub fn add(&mut self, name: String, shape: Vec<usize>) -> usize {
        let offset = self.data.len();
        let spec = TensorSpec { name, shape, offset };
        self.data.resize(offset + spec.len(), 0.0);
        self.tensors.push(spec);
        offset
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn get(&self, name: &str) -> Option<&TensorSpec> {
        self.tensors.iter().find(|t| t.name == name)
    }
}
