export * from './contract';
export * from './errors';
export * from './http';
export * from './records';
export * from './validate';
export * from './webhook';
