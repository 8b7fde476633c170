//! Compiled compute pipelines, built once per device.

use fuselm_core::GgmlType;

use crate::device::Gpu;
use crate::formats::{GpuAct, FORMATS};
use crate::shader_source;

pub struct Kernels {
    /// One matrix-vector pipeline per format of [`FORMATS`], in its order.
    matvec: Vec<wgpu::ComputePipeline>,
    /// One quantizer per [`GpuAct::ALL`], in its order.
    quantize: Vec<wgpu::ComputePipeline>,
    pub rms_norm: wgpu::ComputePipeline,
    pub rms_norm_in_place: wgpu::ComputePipeline,
    /// elementwise.wgsl's entry points, sharing one layout.
    pub elementwise: Elementwise,
    pub rope: wgpu::ComputePipeline,
    pub kv_store: wgpu::ComputePipeline,
    pub attention: wgpu::ComputePipeline,
}

/// The element-wise kernels; each binds (a, b, c, parameters), unused ones to any buffer.
pub struct Elementwise {
    pub add: wgpu::ComputePipeline,
    pub add_bias: wgpu::ComputePipeline,
    pub scale: wgpu::ComputePipeline,
    pub softcap: wgpu::ComputePipeline,
    pub swiglu: wgpu::ComputePipeline,
    pub geglu: wgpu::ComputePipeline,
}

impl Elementwise {
    fn new(gpu: &Gpu) -> Elementwise {
        let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let uniform = wgpu::BindGroupLayoutEntry {
            binding: 3,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let group_layout = gpu.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("elementwise"),
            entries: &[storage(0, false), storage(1, true), storage(2, true), uniform],
        });
        let layout = gpu.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("elementwise"),
            bind_group_layouts: &[Some(&group_layout)],
            immediate_size: 0,
        });
        let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("elementwise"),
            source: wgpu::ShaderSource::Wgsl(shader_source::elementwise().into()),
        });
        let make = |entry: &str| {
            gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Elementwise {
            add: make("add"),
            add_bias: make("add_bias"),
            scale: make("scale"),
            softcap: make("softcap"),
            swiglu: make("swiglu"),
            geglu: make("geglu"),
        }
    }
}

pub(crate) fn pipeline(gpu: &Gpu, label: &str, source: &str, entry: &str) -> wgpu::ComputePipeline {
    let module = gpu.device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

impl Kernels {
    /// Compiles every kernel; a shader the driver rejects is an error naming it.
    pub fn new(gpu: &Gpu) -> crate::Result<Kernels> {
        let matvec = FORMATS
            .iter()
            .map(|f| pipeline(gpu, &format!("matvec {}", f.ggml_type), &shader_source::matvec(f), "main"))
            .collect();
        let source = shader_source::quantize();
        let quantize = GpuAct::ALL.iter().map(|a| pipeline(gpu, a.entry_point(), &source, a.entry_point())).collect();
        let kernels = Kernels {
            matvec,
            quantize,
            rms_norm: pipeline(gpu, "rms_norm", &shader_source::rms_norm(false), "main"),
            rms_norm_in_place: pipeline(gpu, "rms_norm_in_place", &shader_source::rms_norm(true), "main"),
            elementwise: Elementwise::new(gpu),
            rope: pipeline(gpu, "rope", shader_source::ROPE, "main"),
            kv_store: pipeline(gpu, "kv_store", &shader_source::kv_store(), "main"),
            attention: pipeline(gpu, "attention", &shader_source::attention(), "main"),
        };
        gpu.check()?;
        Ok(kernels)
    }

    pub fn matvec(&self, ggml_type: GgmlType) -> Option<&wgpu::ComputePipeline> {
        FORMATS.iter().position(|f| f.ggml_type == ggml_type).map(|i| &self.matvec[i])
    }

    pub fn quantize(&self, act: GpuAct) -> &wgpu::ComputePipeline {
        &self.quantize[GpuAct::ALL.iter().position(|&a| a == act).expect("every GpuAct has a quantizer")]
    }
}
