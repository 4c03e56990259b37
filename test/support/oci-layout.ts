/** The OCI image-layout writer lives with the sandbox (which ships one); the tests use the same. */
export { type LayoutImage, type WrittenImage, writeOciLayout } from '../../src/sandbox/oci-layout.js';
