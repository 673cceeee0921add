/* OTLP trace bodies read straight from their protobuf bytes into decode.Span objects.

   The same answer as decode.flatten(request, keep_content=False, kinds=..., prefixes=...) over the
   message upb parsed from these bytes, without building a Python object per protobuf field: reading
   attributes out of upb's message objects was the costliest step of ingest per call
   (docs/performance.md). decode.flatten stays the definition; tests/unit/ingest/test_otlp_wire.py holds
   the two equal over the SDK's spans, every peer instrumentation's captured spans and fuzzed bodies.

   Only bytes upb has already accepted come here. Anything this reader does not reproduce exactly gives
   None, and the caller uses decode.flatten: a singular field or a oneof member given twice (protobuf
   merges or keeps the last), a known field with an unexpected wire type (upb keeps it as an unknown
   field), groups, nesting deeper than MAX_DEPTH, a string that is not strict UTF-8. Every read is
   bounds-checked against the enclosing message, so no input reads outside the body. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64

#define DONE 0
#define FALLBACK 1
#define FAILED (-1) /* a Python exception is set (memory) */

#define WIRE_VARINT 0
#define WIRE_FIXED64 1
#define WIRE_LEN 2
#define WIRE_FIXED32 5

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} Reader;

static int read_varint(Reader *r, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t byte = *r->p++;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = value;
            return 1;
        }
    }
    return 0;
}

/* The next field's number and wire type; 0 at the end of the message or on a malformed tag. */
static int read_tag(Reader *r, uint32_t *field, uint32_t *wire) {
    uint64_t tag;
    if (r->p >= r->end || !read_varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX) {
        return 0;
    }
    *field = (uint32_t)(tag >> 3);
    *wire = (uint32_t)(tag & 7);
    return 1;
}

static int read_slice(Reader *r, Reader *out) {
    uint64_t n;
    if (!read_varint(r, &n) || n > (uint64_t)(r->end - r->p)) {
        return 0;
    }
    out->p = r->p;
    out->end = r->p + n;
    r->p += n;
    return 1;
}

static int read_fixed64(Reader *r, uint64_t *out) {
    if (r->end - r->p < 8) {
        return 0;
    }
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--) {
        value = (value << 8) | r->p[i]; /* little-endian on the wire, whatever the host */
    }
    r->p += 8;
    *out = value;
    return 1;
}

static int skip(Reader *r, uint32_t wire) {
    uint64_t ignored;
    Reader slice;
    switch (wire) {
    case WIRE_VARINT:
        return read_varint(r, &ignored);
    case WIRE_FIXED64:
        return read_fixed64(r, &ignored);
    case WIRE_LEN:
        return read_slice(r, &slice);
    case WIRE_FIXED32:
        if (r->end - r->p < 4) {
            return 0;
        }
        r->p += 4;
        return 1;
    default: /* groups: deprecated, never in OTLP; upb knows how to keep them */
        return 0;
    }
}

/* A string field as str; NULL with FALLBACK in *status when it is not strict UTF-8. */
static PyObject *text(Reader s, int *status) {
    PyObject *value = PyUnicode_DecodeUTF8((const char *)s.p, s.end - s.p, NULL);
    if (value == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            *status = FALLBACK;
        } else {
            *status = FAILED;
        }
    }
    return value;
}

static int any_value(Reader r, int depth, PyObject **out);

/* A KeyValue's key and its value's bytes (not yet read); has_value is 0 when the value is unset. */
static int key_value(Reader r, Reader *key, Reader *value, int *has_value) {
    uint32_t field, wire;
    int has_key = 0;
    *has_value = 0;
    key->p = key->end = r.p;
    while (read_tag(&r, &field, &wire)) {
        if (field == 1 || field == 2) {
            int *seen = field == 1 ? &has_key : has_value;
            if (wire != WIRE_LEN || *seen || !read_slice(&r, field == 1 ? key : value)) {
                return FALLBACK;
            }
            *seen = 1;
        } else if (!skip(&r, wire)) {
            return FALLBACK;
        }
    }
    return r.p == r.end ? DONE : FALLBACK;
}

/* What flatten() is told to keep, and what each span becomes. */
typedef struct {
    PyObject *kinds;    /* dict: attribute names kept */
    PyObject *prefixes; /* tuple of str: attribute name prefixes kept */
    PyObject *span_type;
    PyObject *spans; /* list: the answer */
} Job;

static int kept(Job *job, PyObject *name) {
    int found = PyDict_Contains(job->kinds, name);
    if (found != 0) {
        return found;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(job->prefixes);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t match = PyUnicode_Tailmatch(name, PyTuple_GET_ITEM(job->prefixes, i), 0, PY_SSIZE_T_MAX, -1);
        if (match != 0) {
            return match < 0 ? -1 : 1;
        }
    }
    return 0;
}

/* A KeyValue put into ``into`` (a dict; a later key wins, as in Python). With a ``job``, only a kept
   key's value is read (a span's attributes); without, every one (a resource's, a KeyValueList's). */
static int key_value_into(Reader r, int depth, PyObject *into, Job *job) {
    Reader key, value;
    int has_value;
    int status = key_value(r, &key, &value, &has_value);
    if (status != DONE) {
        return status;
    }
    PyObject *name = text(key, &status);
    if (name == NULL) {
        return status;
    }
    int keep = job == NULL ? 1 : kept(job, name);
    PyObject *item = NULL;
    if (keep < 0) {
        status = FAILED;
    } else if (keep) {
        if (has_value) {
            status = any_value(value, depth + 1, &item);
        } else {
            item = Py_NewRef(Py_None);
        }
        if (status == DONE && PyDict_SetItem(into, name, item) < 0) {
            status = FAILED;
        }
    }
    Py_DECREF(name);
    Py_XDECREF(item);
    return status;
}

/* An ArrayValue (a list of values) or a KeyValueList (a dict): both hold one repeated field, 1. */
static int repeated_values(Reader r, int depth, int as_dict, PyObject **out) {
    uint32_t field, wire;
    PyObject *items = as_dict ? PyDict_New() : PyList_New(0);
    if (items == NULL) {
        return FAILED;
    }
    int status = DONE;
    while (status == DONE && read_tag(&r, &field, &wire)) {
        Reader slice;
        if (field != 1) {
            status = skip(&r, wire) ? DONE : FALLBACK;
        } else if (wire != WIRE_LEN || !read_slice(&r, &slice)) {
            status = FALLBACK;
        } else if (as_dict) {
            status = key_value_into(slice, depth, items, NULL);
        } else {
            PyObject *item = NULL;
            status = any_value(slice, depth + 1, &item);
            if (status == DONE && PyList_Append(items, item) < 0) {
                status = FAILED;
            }
            Py_XDECREF(item);
        }
    }
    if (status == DONE && r.p != r.end) {
        status = FALLBACK;
    }
    if (status != DONE) {
        Py_DECREF(items);
        return status;
    }
    *out = items;
    return DONE;
}

/* An AnyValue as decode.any_value gives it: None when no member is set. */
static int any_value(Reader r, int depth, PyObject **out) {
    uint32_t field, wire;
    PyObject *value = NULL;
    int status = DONE;
    if (depth > MAX_DEPTH) {
        return FALLBACK;
    }
    while (read_tag(&r, &field, &wire)) {
        if (field > 7) {
            if (!skip(&r, wire)) {
                status = FALLBACK;
                break;
            }
            continue;
        }
        int expected = (field == 2 || field == 3) ? WIRE_VARINT : field == 4 ? WIRE_FIXED64 : WIRE_LEN;
        if (value != NULL || (int)wire != expected) { /* a oneof set twice: protobuf keeps or merges */
            status = FALLBACK;
            break;
        }
        uint64_t number;
        Reader slice;
        int read = expected == WIRE_VARINT  ? read_varint(&r, &number)
                   : expected == WIRE_FIXED64 ? read_fixed64(&r, &number)
                                              : read_slice(&r, &slice);
        if (!read) {
            status = FALLBACK;
            break;
        }
        switch (field) {
        case 1:
            value = text(slice, &status);
            break;
        case 2:
            value = PyBool_FromLong(number != 0);
            break;
        case 3:
            value = PyLong_FromLongLong((long long)(int64_t)number);
            break;
        case 4: {
            double real;
            memcpy(&real, &number, sizeof real);
            value = PyFloat_FromDouble(real);
            break;
        }
        case 5:
            status = repeated_values(slice, depth, 0, &value);
            break;
        case 6:
            status = repeated_values(slice, depth, 1, &value);
            break;
        default:
            value = PyBytes_FromStringAndSize((const char *)slice.p, slice.end - slice.p);
        }
        if (value == NULL) {
            if (status == DONE) {
                status = FAILED;
            }
            break;
        }
    }
    if (status == DONE && r.p != r.end) {
        status = FALLBACK;
    }
    if (status != DONE) {
        Py_XDECREF(value);
        return status;
    }
    *out = value != NULL ? value : Py_NewRef(Py_None);
    return DONE;
}

/* Marks a singular field seen; 0 (the caller falls back) when it was seen already or has another wire
   type. */
static int once(uint32_t *seen, uint32_t field, uint32_t wire, uint32_t expected) {
    uint32_t bit = 1u << field;
    if ((*seen & bit) || wire != expected) {
        return 0;
    }
    *seen |= bit;
    return 1;
}

static int status_fields(Reader r, PyObject **message, long *code) {
    uint32_t field, wire, seen = 0;
    int status = DONE;
    while (read_tag(&r, &field, &wire)) {
        uint64_t number;
        Reader slice;
        if (field == 2) {
            if (!once(&seen, field, wire, WIRE_LEN) || !read_slice(&r, &slice)) {
                return FALLBACK;
            }
            PyObject *value = text(slice, &status);
            if (value == NULL) {
                return status;
            }
            Py_SETREF(*message, value);
        } else if (field == 3) {
            if (!once(&seen, field, wire, WIRE_VARINT) || !read_varint(&r, &number)) {
                return FALLBACK;
            }
            *code = (int32_t)(uint32_t)number; /* an open enum: any int32 is kept */
        } else if (!skip(&r, wire)) {
            return FALLBACK;
        }
    }
    return r.p == r.end ? DONE : FALLBACK;
}

enum {
    RESOURCE,
    TRACE_ID,
    SPAN_ID,
    PARENT_SPAN_ID,
    NAME,
    KIND,
    START_NS,
    END_NS,
    STATUS_CODE,
    STATUS_MESSAGE,
    ATTRIBUTES,
    SCOPE,
    SPAN_FIELDS
};

static int span(Job *job, Reader r, PyObject *resource, PyObject *scope) {
    PyObject *fields[SPAN_FIELDS] = {NULL};
    uint32_t field, wire, seen = 0;
    uint64_t kind = 0, start_ns = 0, end_ns = 0;
    long status_code = 0;
    int status = DONE;

    fields[TRACE_ID] = PyBytes_FromStringAndSize(NULL, 0);
    fields[SPAN_ID] = Py_XNewRef(fields[TRACE_ID]);
    fields[PARENT_SPAN_ID] = Py_XNewRef(fields[TRACE_ID]);
    fields[NAME] = PyUnicode_New(0, 0);
    fields[STATUS_MESSAGE] = Py_XNewRef(fields[NAME]);
    fields[ATTRIBUTES] = PyDict_New();
    if (fields[TRACE_ID] == NULL || fields[NAME] == NULL || fields[ATTRIBUTES] == NULL) {
        status = FAILED;
        goto done;
    }
    while (status == DONE && read_tag(&r, &field, &wire)) {
        Reader slice;
        int slot = -1;
        switch (field) {
        case 1:
            slot = TRACE_ID;
            break;
        case 2:
            slot = SPAN_ID;
            break;
        case 4:
            slot = PARENT_SPAN_ID;
            break;
        case 5:
            slot = NAME;
            break;
        }
        if (slot >= 0) {
            if (!once(&seen, field, wire, WIRE_LEN) || !read_slice(&r, &slice)) {
                status = FALLBACK;
                break;
            }
            PyObject *value = slot == NAME
                                  ? text(slice, &status)
                                  : PyBytes_FromStringAndSize((const char *)slice.p, slice.end - slice.p);
            if (value == NULL) {
                if (status == DONE) {
                    status = FAILED;
                }
                break;
            }
            Py_SETREF(fields[slot], value);
        } else if (field == 6) {
            if (!once(&seen, field, wire, WIRE_VARINT) || !read_varint(&r, &kind)) {
                status = FALLBACK;
            }
        } else if (field == 7 || field == 8) {
            if (!once(&seen, field, wire, WIRE_FIXED64) || !read_fixed64(&r, field == 7 ? &start_ns : &end_ns)) {
                status = FALLBACK;
            }
        } else if (field == 9) {
            if (wire != WIRE_LEN || !read_slice(&r, &slice)) {
                status = FALLBACK;
            } else {
                status = key_value_into(slice, 0, fields[ATTRIBUTES], job);
            }
        } else if (field == 15) {
            if (!once(&seen, field, wire, WIRE_LEN) || !read_slice(&r, &slice)) {
                status = FALLBACK;
            } else {
                status = status_fields(slice, &fields[STATUS_MESSAGE], &status_code);
            }
        } else if (!skip(&r, wire)) {
            status = FALLBACK;
        }
    }
    if (status == DONE && r.p != r.end) {
        status = FALLBACK;
    }
    if (status != DONE) {
        goto done;
    }
    fields[RESOURCE] = Py_NewRef(resource);
    fields[SCOPE] = Py_NewRef(scope);
    fields[KIND] = PyLong_FromLong((int32_t)(uint32_t)kind);
    fields[START_NS] = PyLong_FromUnsignedLongLong(start_ns);
    fields[END_NS] = PyLong_FromUnsignedLongLong(end_ns);
    fields[STATUS_CODE] = PyLong_FromLong(status_code);
    if (fields[KIND] == NULL || fields[START_NS] == NULL || fields[END_NS] == NULL || fields[STATUS_CODE] == NULL) {
        status = FAILED;
        goto done;
    }
    PyObject *made = PyObject_Vectorcall(job->span_type, fields, SPAN_FIELDS, NULL);
    if (made == NULL || PyList_Append(job->spans, made) < 0) {
        status = FAILED;
    }
    Py_XDECREF(made);
done:
    for (int i = 0; i < SPAN_FIELDS; i++) {
        Py_XDECREF(fields[i]);
    }
    return status;
}

/* The field of a message that must come first whatever its place on the wire (a resource before its
   spans, a scope before its spans): its bytes, or an empty reader when it is absent. */
static int singular(Reader r, uint32_t wanted, Reader *out, int *present) {
    uint32_t field, wire;
    *present = 0;
    while (read_tag(&r, &field, &wire)) {
        if (field == wanted) {
            if (wire != WIRE_LEN || *present || !read_slice(&r, out)) {
                return FALLBACK;
            }
            *present = 1;
        } else if (!skip(&r, wire)) {
            return FALLBACK;
        }
    }
    return r.p == r.end ? DONE : FALLBACK;
}

static int scope_spans(Job *job, Reader r, PyObject *resource) {
    Reader scope_bytes, name_bytes;
    int present, status;
    uint32_t field, wire;
    PyObject *scope = NULL;

    if ((status = singular(r, 1, &scope_bytes, &present)) != DONE) {
        return status;
    }
    if (present && (status = singular(scope_bytes, 1, &name_bytes, &present)) != DONE) {
        return status;
    }
    scope = present ? text(name_bytes, &status) : PyUnicode_New(0, 0);
    if (scope == NULL) {
        return status == DONE ? FAILED : status;
    }
    while (status == DONE && read_tag(&r, &field, &wire)) {
        Reader slice;
        if (field == 2) {
            status = wire == WIRE_LEN && read_slice(&r, &slice) ? span(job, slice, resource, scope) : FALLBACK;
        } else if (!skip(&r, wire)) {
            status = FALLBACK;
        }
    }
    Py_DECREF(scope);
    return status;
}

static int resource_spans(Job *job, Reader r) {
    Reader resource_bytes;
    int present, status;
    uint32_t field, wire;

    if ((status = singular(r, 1, &resource_bytes, &present)) != DONE) {
        return status;
    }
    PyObject *resource = PyDict_New();
    if (resource == NULL) {
        return FAILED;
    }
    if (present) { /* Resource: every attribute, content or not, as flatten reads them */
        Reader rr = resource_bytes;
        while (status == DONE && read_tag(&rr, &field, &wire)) {
            Reader slice;
            if (field == 1) {
                status = wire == WIRE_LEN && read_slice(&rr, &slice) ? key_value_into(slice, 0, resource, NULL)
                                                                     : FALLBACK;
            } else if (!skip(&rr, wire)) {
                status = FALLBACK;
            }
        }
        if (status == DONE && rr.p != rr.end) {
            status = FALLBACK;
        }
    }
    while (status == DONE && read_tag(&r, &field, &wire)) {
        Reader slice;
        if (field == 2) {
            status = wire == WIRE_LEN && read_slice(&r, &slice) ? scope_spans(job, slice, resource) : FALLBACK;
        } else if (!skip(&r, wire)) {
            status = FALLBACK;
        }
    }
    Py_DECREF(resource);
    return status;
}

PyDoc_STRVAR(flatten_doc,
             "flatten(body, kinds, prefixes, span_type, /) -> list | None\n\n"
             "The spans of an ExportTraceServiceRequest's protobuf bytes, as decode.flatten gives them with\n"
             "keep_content=False: only attributes named in ``kinds`` (a dict) or starting with one of\n"
             "``prefixes`` are read. None when the bytes use an encoding only decode.flatten reproduces.");

static PyObject *flatten(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer body;
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "flatten takes exactly 4 arguments");
        return NULL;
    }
    if (!PyDict_Check(args[1]) || !PyTuple_Check(args[2]) || !PyCallable_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "flatten(body, kinds: dict, prefixes: tuple[str, ...], span_type)");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args[2]);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(args[2], i))) {
            PyErr_SetString(PyExc_TypeError, "prefixes must be a tuple of str");
            return NULL;
        }
    }
    if (PyObject_GetBuffer(args[0], &body, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Job job = {args[1], args[2], args[3], PyList_New(0)};
    int status = job.spans == NULL ? FAILED : DONE;
    Reader r = {(const uint8_t *)body.buf, (const uint8_t *)body.buf + body.len};
    uint32_t field, wire;
    while (status == DONE && read_tag(&r, &field, &wire)) {
        Reader slice;
        if (field == 1) {
            status = wire == WIRE_LEN && read_slice(&r, &slice) ? resource_spans(&job, slice) : FALLBACK;
        } else if (!skip(&r, wire)) {
            status = FALLBACK;
        }
    }
    if (status == DONE && r.p != r.end) {
        status = FALLBACK;
    }
    PyBuffer_Release(&body);
    if (status == DONE) {
        return job.spans;
    }
    Py_XDECREF(job.spans);
    if (status == FAILED) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"flatten", (PyCFunction)(void (*)(void))flatten, METH_FASTCALL, flatten_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "tiermix_server.ingest._otlp_wire",
    "OTLP trace bodies read from their protobuf bytes (the compiled half of decode.flatten).",
    0,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__otlp_wire(void) { return PyModule_Create(&module); }
