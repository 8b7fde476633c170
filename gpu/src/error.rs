//! The GPU backend's errors: each says what was asked of which adapter.

use fuselm_core::GgmlType;

pub type Result<T> = std::result::Result<T, GpuError>;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter: {0} (natively wgpu needs a Vulkan, Metal or DX12 driver; without a GPU, Mesa's \
         lavapipe runs Vulkan on the CPU: apt-get install mesa-vulkan-drivers)"
    )]
    NoAdapter(String),
    #[error("the GPU adapter {adapter} refused a device: {why}")]
    Device { adapter: String, why: String },
    #[error("{tensor}: {ggml_type} has no GPU kernel (formats with one: {supported})")]
    UnsupportedFormat { tensor: String, ggml_type: GgmlType, supported: String },
    #[error("{what}: {bytes} bytes in one GPU buffer, but the adapter {adapter} allows at most {limit}")]
    TooLarge { what: String, bytes: u64, limit: u64, adapter: String },
    #[error("the GPU backend does not run {0}")]
    Unsupported(String),
    #[error("the GPU adapter {adapter} reported: {why}")]
    Driver { adapter: String, why: String },
    #[error(transparent)]
    Core(#[from] fuselm_core::Error),
}
