// A minimal ONNX model writer: protobuf wire encoding by hand, so graphs can be generated from code
// without a protobuf dependency. Field numbers follow onnx/onnx.proto (IR version 8).

/** TensorProto.DataType codes, by the names the rest of the project uses. */
export const DATA_TYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const;

export type ElemType = keyof typeof DATA_TYPE;

const BYTES_PER_ELEMENT: Record<ElemType, number> = {
  float32: 4, uint8: 1, int8: 1, int32: 4, int64: 8, bool: 1, float16: 2, float64: 8,
};

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

/**
 * A constant tensor. `type` defaults from the array kind; it is needed only where the array
 * cannot say it (float16 in a Uint16Array, bool in a Uint8Array).
 */
export interface Tensor {
  dims: readonly number[];
  data: TensorData;
  type?: ElemType;
}

/** A dimension: a fixed size, or a symbolic name that ties equal dimensions together ("batch"). */
export type Dim = number | string;

/** Attribute values carry their ONNX type explicitly: a JS number cannot tell int from float. */
export type Attribute =
  | { int: number | bigint }
  | { ints: readonly (number | bigint)[] }
  | { float: number }
  | { floats: readonly number[] }
  | { string: string }
  | { tensor: Tensor };

export type Attributes = Record<string, Attribute>;

export interface ModelOptions {
  opset?: number;
  irVersion?: number;
  producer?: string;
}

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

const utf8 = new TextEncoder();

/**
 * One protobuf message under construction. Large payloads (weights) are kept as references to
 * the caller's buffers and copied once, in toBytes, so a model of hundreds of MB is not copied
 * at every nesting level.
 */
class Message {
  private readonly parts: Uint8Array[] = [];
  private pending: number[] = [];
  private flushed = 0;

  get size(): number {
    return this.flushed + this.pending.length;
  }

  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.pending.push(...b);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(data.length);
    this.append(data);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, sub: Message): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(sub.size);
    sub.flush();
    for (const p of sub.parts) this.append(p);
    return this;
  }

  toBytes(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.flushed);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  // int64 fields are two's complement on the wire: a negative value (axes = -1) takes ten bytes.
  private rawVarint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.pending.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.pending.push(Number(v));
  }

  private append(data: Uint8Array): void {
    // Small payloads join the pending bytes; only big ones are worth a separate part.
    if (data.length < 256) {
      for (const b of data) this.pending.push(b);
      return;
    }
    this.flush();
    this.parts.push(data);
    this.flushed += data.length;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.parts.push(Uint8Array.from(this.pending));
    this.flushed += this.pending.length;
    this.pending = [];
  }
}

function elemTypeOf(t: Tensor): ElemType {
  if (t.type) return t.type;
  const d = t.data;
  if (d instanceof Float32Array) return 'float32';
  if (d instanceof Float64Array) return 'float64';
  if (d instanceof BigInt64Array) return 'int64';
  if (d instanceof Int32Array) return 'int32';
  if (d instanceof Int8Array) return 'int8';
  if (d instanceof Uint8Array) return 'uint8';
  throw new Error('a Uint16Array tensor needs an explicit type (float16)');
}

function tensorProto(t: Tensor, name?: string): Message {
  const type = elemTypeOf(t);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.BYTES_PER_ELEMENT !== BYTES_PER_ELEMENT[type]) {
    throw new Error(`tensor ${name ?? ''}: ${t.data.constructor.name} cannot hold ${type}`);
  }
  if (t.data.length !== count) {
    throw new Error(`tensor ${name ?? ''}: ${t.data.length} values for dims [${t.dims.join(',')}]`);
  }
  const m = new Message();
  for (const d of t.dims) m.varint(1, d);
  m.varint(2, DATA_TYPE[type]);
  if (name !== undefined) m.string(8, name);
  // raw_data is little-endian, as are the typed arrays of every platform Node runs on.
  m.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return m;
}

function attributeProto(name: string, a: Attribute): Message {
  const m = new Message().string(1, name);
  if ('int' in a) m.varint(20, ATTR_INT).varint(3, a.int);
  else if ('float' in a) m.varint(20, ATTR_FLOAT).float(2, a.float);
  else if ('string' in a) m.varint(20, ATTR_STRING).bytes(4, utf8.encode(a.string));
  else if ('tensor' in a) m.varint(20, ATTR_TENSOR).message(5, tensorProto(a.tensor));
  else if ('ints' in a) {
    m.varint(20, ATTR_INTS);
    for (const v of a.ints) m.varint(8, v);
  } else {
    m.varint(20, ATTR_FLOATS);
    for (const v of a.floats) m.float(7, v);
  }
  return m;
}

function valueInfoProto(name: string, type: ElemType, shape: readonly Dim[]): Message {
  const dims = new Message();
  for (const d of shape) {
    const dim = typeof d === 'number' ? new Message().varint(1, d) : new Message().string(2, d);
    dims.message(1, dim);
  }
  const tensorType = new Message().varint(1, DATA_TYPE[type]).message(2, dims);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}

/**
 * Builds one graph in the default ONNX domain. Nodes must be added in topological order (ONNX
 * requires it); names are the caller's, except that op() makes fresh ones.
 */
export class GraphBuilder {
  private readonly nodes: Message[] = [];
  private readonly initializers: Message[] = [];
  private readonly inputs: Message[] = [];
  private readonly outputs: Message[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  input(name: string, type: ElemType, shape: readonly Dim[]): string {
    this.inputs.push(valueInfoProto(name, type, shape));
    return name;
  }

  output(name: string, type: ElemType, shape: readonly Dim[]): string {
    this.outputs.push(valueInfoProto(name, type, shape));
    return name;
  }

  initializer(name: string, tensor: Tensor): string {
    this.initializers.push(tensorProto(tensor, name));
    return name;
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes: Attributes = {}): void {
    const m = new Message();
    for (const i of inputs) m.string(1, i);
    for (const o of outputs) m.string(2, o);
    m.string(3, `${opType}_${this.counter++}`);
    m.string(4, opType);
    for (const [k, v] of Object.entries(attributes)) m.message(5, attributeProto(k, v));
    this.nodes.push(m);
  }

  /** A single-output node whose output gets a fresh name, returned so calls can be chained. */
  op(opType: string, inputs: readonly string[], attributes: Attributes = {}): string {
    const out = `${opType.toLowerCase()}_${this.counter}`;
    this.node(opType, inputs, [out], attributes);
    return out;
  }

  toBytes({ opset = 17, irVersion = 8, producer = 'vidsearch' }: ModelOptions = {}): Uint8Array {
    const graph = new Message();
    for (const n of this.nodes) graph.message(1, n);
    graph.string(2, this.name);
    for (const t of this.initializers) graph.message(5, t);
    for (const i of this.inputs) graph.message(11, i);
    for (const o of this.outputs) graph.message(12, o);

    const model = new Message()
      .varint(1, irVersion)
      .string(2, producer)
      .message(7, graph)
      .message(8, new Message().string(1, '').varint(2, opset));
    return model.toBytes();
  }
}
