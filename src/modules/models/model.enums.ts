// The model module's enums, apart from the entity so that other modules may import them.
import { registerEnumType } from 'type-graphql';

export enum ModelTask {
  CLASSIFICATION = 'CLASSIFICATION',
  REGRESSION = 'REGRESSION',
  OTHER = 'OTHER',
}
registerEnumType(ModelTask, { name: 'ModelTask' });

export enum ModelFormat {
  /** An ONNX artifact run by onnxruntime inside the hub. */
  ONNX = 'ONNX',
  /** A model on a remote server speaking the Open Inference Protocol (KServe v2: Triton, MLServer, ...). */
  REMOTE_OIP = 'REMOTE_OIP',
}
registerEnumType(ModelFormat, { name: 'ModelFormat' });

export enum ModelVersionStatus {
  REGISTERED = 'REGISTERED',
  VALIDATED = 'VALIDATED',
  REJECTED = 'REJECTED',
  ARCHIVED = 'ARCHIVED',
}
registerEnumType(ModelVersionStatus, { name: 'ModelVersionStatus' });
