export * from './action-session';
export * from './contract';
export * from './errors';
export * from './grpc-gateway';
export * from './http';
export * from './records';
export * from './validate';
export * from './webhook';
