// Types of the `fuselm` package's Node.js entry (node.js): the same API as index.js.
export * from './index.js';
