# The spyrec recording format: every record stored in LMDB is one of these
# messages, serialized flat (capnp::messageToFlatArray). The LMDB side (which
# sub-database holds what, and how keys are encoded) is in keys.h; the format
# version both sides check is kFormatVersion in format.h. Bump it whenever a
# field changes meaning or a key layout changes.
@0xd3b5c4a1e2f60718;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("spyrec::schema");

# A structural snapshot of a Python value. Recording a value never stores code,
# so reading one never executes anything.
struct Value {
  union {
    none @0 :Void;
    boolean @1 :Bool;
    integer @2 :Int64;
    bigInteger @3 :Text;          # decimal text of an int outside int64
    float @4 :Float64;
    str @5 :Text;
    bytes @6 :Data;
    list @7 :List(Value);
    tuple @8 :List(Value);
    dict @9 :List(Entry);
    set @10 :List(Value);
    frozenset @11 :List(Value);
    object @12 :Instance;         # a plain object: its type and its __dict__
    repr @13 :Text;               # anything else, by its builtin repr
    cycle @14 :Void;              # a container already on the path from the root
    tooDeep @15 :Void;            # past the depth limit
    ref @18 :ObjectRef;           # an object compared by identity, not by contents
    redacted @19 :UInt64;         # a secret (a value under a key or attribute whose name
                                  # matches Meta.redactPatterns): its keyed fingerprint only
  }
  truncated @16 :UInt64;          # items left out past the width limit (0: none)
  typeName @17 :Text;             # set when the type is a subclass of the shape (e.g. OrderedDict)
}

struct Entry {
  key @0 :Value;
  value @1 :Value;
}

# An object met inside a watched value (a plain object, a finder, a function,
# a module, a C object whose insides spyrec cannot see): which object sits
# there, not what it holds. Two refs are the same value when their ids match.
struct ObjectRef {
  typeName @0 :Text;              # module-qualified
  id @1 :UInt64;                  # id() of the object while it was there
  repr @2 :Text;                  # a builtin repr when the type is a builtin one, else empty
}

struct Instance {
  typeName @0 :Text;              # module-qualified: "myapp.Config"
  attributes @1 :List(Entry);
}

# One Python frame of a culprit's stack.
struct Frame {
  codeId @0 :UInt64;              # key into the code sub-database
  offset @1 :UInt32;              # byte offset in co_code
  line @2 :Int32;                 # -1 when the instruction has no line
}

# One step from a container to one of its items: a dict key or an attribute
# name (a Value; attributes are str keys of an object's attributes), or an
# index into a list or tuple.
struct PathStep {
  union {
    key @0 :Value;
    index @1 :UInt64;
  }
}

# One edit of the watched value. `path` leads from the watched value to the
# container edited (empty: the watched value itself). Applied in order, a
# change's ops turn its `before` into its `after`.
struct Op {
  path @0 :List(PathStep);
  union {
    setItem @1 :Entry;            # dict or object: add or replace key -> value
    deleteItem @2 :Value;         # dict or object: remove the key
    splice @3 :Splice;            # list or tuple: items[start:end] = newItems
    addElements @4 :List(Value);  # set
    removeElements @5 :List(Value);
    replace @6 :Value;            # the value at `path` becomes this one
  }
}

struct Splice {
  start @0 :UInt64;
  end @1 :UInt64;
  newItems @2 :List(Value);
}

struct Change {
  seq @0 :UInt64;
  watchId @1 :UInt32;
  threadId @2 :UInt64;
  threadName @3 :Text;
  kind @4 :Kind;
  stack @5 :List(Frame);          # innermost first; stack[0] is the culprit
  before @6 :Value;               # unused since format 2: rebuilt from keyframes and ops
  after @7 :Value;                # unused since format 2: rebuilt from keyframes and ops
  recentLines @8 :List(Frame);    # the thread's trail of lines before the culprit, oldest first
  opcode @9 :UInt8;               # the culprit's base opcode (see Meta.opnames)
  ops @10 :List(Op);              # what changed (modified); empty when a keyframe holds the after value
  hasKeyframe @11 :Bool;          # the keyframes table holds the value after this change
  monotonicNs @12 :UInt64;        # CLOCK_MONOTONIC when recorded: orders changes across processes (0: not known)
  taskName @13 :Text;             # the asyncio Task running in the culprit's thread ("": none, or not known)

  enum Kind {
    modified @0;
    appeared @1;                  # the expression became resolvable (keyframe: its value)
    vanished @2;                  # it stopped being resolvable (del, key removed)
    rebound @3;                   # bound to another mutable object, maybe with equal contents (keyframe)
  }
}

struct Code {
  filename @0 :Text;
  qualname @1 :Text;
  firstLine @2 :Int32;
  bytecode @3 :Data;              # co_code as dis shows it (base opcodes)
  lines @4 :List(Int32);          # line of the instruction at offset 2*i, -1 if none
}

struct Watch {
  id @0 :UInt32;
  expr @1 :Text;
  resolvedAtStart @2 :Bool;
  initial @3 :Value;              # unused since format 2: the keyframe at seq 0 holds it
  startSeq @4 :UInt64;
  # Rewritten when recording ends (absent if the process died first):
  everResolved @5 :Bool;
  unresolvedReason @6 :Text;      # why it never resolved: "`__main__` has no SETINGS"
  opaque @7 :List(OpaqueNote);    # values inside it whose insides spyrec cannot see
  followDepth @8 :UInt32;         # how deep plain objects' attributes were followed
}

struct OpaqueNote {
  typeName @0 :Text;
  tracked @1 :Text;               # what is tracked of it: "rebinding only", "contents (compared)"
  where @2 :Text;                 # one path where it was seen, e.g. "['arr']"
}

struct RaisedException {
  seq @0 :UInt64;
  threadId @1 :UInt64;
  threadName @2 :Text;
  typeName @3 :Text;
  message @4 :Text;
  stack @5 :List(Frame);
  reraised @6 :Bool;
  opcode @7 :UInt8;
  monotonicNs @8 :UInt64;         # as Change.monotonicNs
  framesLeftOut @9 :UInt32;       # outer frames not stored (an instruction that raised many times: see recorder)
}

# A point in the recording's event order where the program said what it was
# doing: `pytest --spyrec` writes one when each test's setup, call and
# teardown begins, and one (phase `none`) when its teardown ends. An event
# with seq s belongs to the last mark with seq < s. Recordings without marks
# simply have no `marks` table.
struct Mark {
  seq @0 :UInt64;                 # takes a seq of its own, like a change
  test @1 :Text;                  # the test's node id; empty with phase `none`
  phase @2 :Phase;

  enum Phase {
    none @0;                      # outside any test
    setup @1;
    call @2;
    teardown @3;
  }
}

struct Meta {
  formatVersion @0 :UInt32;
  pythonVersion @1 :Text;
  argv @2 :List(Text);
  cwd @3 :Text;
  startTime @4 :Float64;          # seconds since the epoch
  opnames @5 :List(Text);         # dis.opname, index = opcode
  spyrecVersion @6 :Text;
  pid @7 :Int64;
  redactPatterns @8 :List(Text);  # names whose values were stored as fingerprints (empty: none)
  redactionKnown @9 :Bool;        # false in recordings made before redaction existed
  parentPid @10 :Int64;           # a followed child process: the pid of the process it came from (0: none)
}

# Written when recording ends, however it ends; absent if the process died
# before it could write it.
struct Ending {
  how @0 :How;
  exitStatus @1 :Int32;
  signal @2 :Int32;
  endTime @3 :Float64;
  message @4 :Text;
  changes @5 :UInt64;
  exceptions @6 :UInt64;
  cutAtSeq @7 :UInt64;            # when recordingCut: the last seq recorded
  recordingCut @8 :Bool;          # --max-size was reached; the program went on
  enum How {
    exited @0;                    # normal exit or sys.exit, with exitStatus
    exception @1;                 # an unhandled exception (exitStatus 1)
    signal @2;                    # killed by a signal we could catch
    stopped @3;                   # a spyrec.record() block ended
  }
}
