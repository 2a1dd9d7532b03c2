// The scalar flavour has no vectors, so no vector multiply-add (kernels/fma.ts): nothing here.
