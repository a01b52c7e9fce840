/* Four steps of ingest.fit_fast in C: the walk over a segment's messages (where each data
 * message starts and which definition it uses), the CRC, reading plain numeric fields, and the
 * compressed-timestamp accumulator.
 *
 * segment(data, start, end, ordinal) walks the messages of one segment from byte `start` while they
 * start before `end` (the end of the segment's data as its header gives it). A definition message
 * is read (even past `end`, as fitparse reads it) and sets its local type's message size (1 + its
 * field sizes + its developer field sizes). It stops at `end` (WALK_END), at a data message of an
 * undefined local type (WALK_UNDEFINED), at a data message the buffer ends in (WALK_CUT) or at a
 * definition it ends in (WALK_DEFINITION, `stop` at that definition). It returns (stop, reason,
 * compressed, definitions): where it stopped, why, whether any data message has a
 * compressed-timestamp header, and ((offset, ordinal, local, size, offsets, ordinals), ...) in file
 * order: where each definition starts, the data messages read before it (counted from `ordinal`),
 * its local type, its messages' size, and its data messages' offsets and ordinals (native int64
 * bytes). ingest.fit_fast._walk_python steps over the data messages between definitions the same
 * way, with numpy.
 *
 * crc(data) is the FIT CRC-16 of a buffer (ingest.fit_fast.fit_crc, byte by byte).
 *
 * numbers(data, offsets, spec, big_endian) reads numeric fields of messages of one layout into
 * float64 columns (ingest.fit_fast._numbers_python does the same with numpy):
 *
 *   offsets     native int64 offsets of the messages (their header byte), as a walk gives them
 *   spec        per field SPEC_SIZE bytes, little-endian: uint16 offset in the message, uint8
 *               size (1, 2, 4 or 8), uint8 kind (SPEC_UNSIGNED, SPEC_SIGNED, SPEC_FLOAT; floats
 *               of 4 or 8 bytes), uint64 invalid value (integers equal to it read as NaN)
 *   returns     a bytearray of fields x messages float64 values, field by field
 *
 * compressed(data, offsets, ordinals, set_ordinals, set_values, resets) works out the times of the
 * compressed-timestamp messages, as fitparse accumulates them (ingest.fit_fast._compressed_numpy
 * does the same with numpy). Every data message is given by its offset and its ordinal (native
 * int64, any order; the ordinals are 0 .. n-1); a valid field 253 by the message's ordinal and its
 * value; a segment start by the ordinal of its first message. In file order, the accumulator is 0
 * at each segment start, takes the value of a message's field 253, and a compressed header moves
 * it forward to the next time with the header's 5-bit offset as its low bits. It returns the
 * ordinals and times (native int64 bytes) of the compressed messages, in file order.
 *
 * The input is hostile: every read is checked against the buffer's length, the sizes are checked,
 * and the walk makes two passes (count, then fill) so it allocates exactly what it returns.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define N_LOCAL 16
#define WALK_END 0
#define WALK_DEFINITION 1
#define WALK_UNDEFINED 2
#define WALK_CUT 3

/* Local type of a data message header (normal: low 4 bits; compressed timestamp: bits 5-6). */
static inline int header_local(unsigned char header) {
    return (header & 0x80) ? ((header >> 5) & 0x3) : (header & 0x0F);
}

/* FIT CRC-16 (polynomial 0xA001, reflected), eight bytes a step ("slicing by 8"):
 * crc_table[k][b] is the register after byte b followed by k zero bytes, from a zero register.
 * Filled at import. */
static uint16_t crc_table[8][256];

static void fill_crc_table(void) {
    for (unsigned value = 0; value < 256; value++) {
        uint16_t crc = (uint16_t)value;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
        }
        crc_table[0][value] = crc;
    }
    for (int k = 1; k < 8; k++) {
        for (unsigned value = 0; value < 256; value++) {
            uint16_t before = crc_table[k - 1][value];
            crc_table[k][value] = (uint16_t)((before >> 8) ^ crc_table[0][before & 0xFF]);
        }
    }
}

static uint16_t crc_bytes(const unsigned char *bytes, Py_ssize_t length) {
    uint16_t value = 0;
    Py_ssize_t i = 0;
    for (; i + 8 <= length; i += 8) {
        const unsigned char *b = bytes + i;
        unsigned low = (unsigned)(b[0] ^ (value & 0xFF));
        unsigned high = (unsigned)(b[1] ^ (value >> 8));
        value = (uint16_t)(crc_table[7][low] ^ crc_table[6][high] ^ crc_table[5][b[2]] ^
                           crc_table[4][b[3]] ^ crc_table[3][b[4]] ^ crc_table[2][b[5]] ^
                           crc_table[1][b[6]] ^ crc_table[0][b[7]]);
    }
    for (; i < length; i++) {
        value = (uint16_t)(crc_table[0][(value ^ bytes[i]) & 0xFF] ^ (value >> 8));
    }
    return value;
}

static PyObject *crc(PyObject *self, PyObject *args) {
    Py_buffer view;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*:crc", &view)) {
        return NULL;
    }
    uint16_t value = crc_bytes((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromLong(value);
}

/* -- segment: the walk through a segment's messages ------------------------------------------ */

typedef struct {
    Py_ssize_t offset;
    long long ordinal;
    int local;
    Py_ssize_t size;
    Py_ssize_t count;
} definition_info;

typedef struct {
    Py_ssize_t stop;
    int reason;
    int compressed;
    Py_ssize_t n_definitions;
    Py_ssize_t n_messages;
} segment_result;

/* The size of the data messages of the definition at `p` and where it ends, or -1 when the
 * buffer ends in it. */
static Py_ssize_t definition_size(const unsigned char *bytes, Py_ssize_t total, Py_ssize_t p,
                                  Py_ssize_t *after) {
    if (p + 6 > total) {
        return -1;
    }
    Py_ssize_t n_fields = bytes[p + 5];
    Py_ssize_t q = p + 6;
    if (q + 3 * n_fields > total) {
        return -1;
    }
    Py_ssize_t size = 1;
    for (Py_ssize_t k = 0; k < n_fields; k++) {
        size += bytes[q + 3 * k + 1];
    }
    q += 3 * n_fields;
    if (bytes[p] & 0x20) {
        if (q + 1 > total) {
            return -1;
        }
        Py_ssize_t n_dev = bytes[q];
        q += 1;
        if (q + 3 * n_dev > total) {
            return -1;
        }
        for (Py_ssize_t k = 0; k < n_dev; k++) {
            size += bytes[q + 3 * k + 1];
        }
        q += 3 * n_dev;
    }
    *after = q;
    return size;
}

/* One pass. With `infos` (capacity from a first pass) it records each definition, and each data
 * message's definition in `owner` and offset in `offsets`. */
static void segment_pass(const unsigned char *bytes, Py_ssize_t total, Py_ssize_t p,
                         Py_ssize_t end, long long ordinal, definition_info *infos,
                         Py_ssize_t info_capacity, Py_ssize_t *owner, int64_t *offsets,
                         Py_ssize_t message_capacity, segment_result *out) {
    Py_ssize_t sizes[N_LOCAL] = {0};
    Py_ssize_t current[N_LOCAL];
    for (int i = 0; i < N_LOCAL; i++) {
        current[i] = -1;
    }
    memset(out, 0, sizeof(*out));
    out->reason = WALK_END;
    while (p < end) {
        if (p >= total) {
            out->reason = WALK_CUT;
            break;
        }
        unsigned char header = bytes[p];
        if ((header & 0xC0) == 0x40) {
            Py_ssize_t after;
            Py_ssize_t size = definition_size(bytes, total, p, &after);
            if (size < 0) {
                out->reason = WALK_DEFINITION;
                break;
            }
            int local = header & 0x0F;
            Py_ssize_t d = out->n_definitions++;
            if (infos != NULL) {
                if (d >= info_capacity) {
                    out->n_definitions--;
                    break;
                }
                infos[d].offset = p;
                infos[d].ordinal = ordinal;
                infos[d].local = local;
                infos[d].size = size;
                infos[d].count = 0;
            }
            sizes[local] = size;
            current[local] = d;
            p = after;
            continue;
        }
        int local = header_local(header);
        Py_ssize_t size = sizes[local];
        if (size == 0) {
            out->reason = WALK_UNDEFINED;
            break;
        }
        if (size > total - p) {
            out->reason = WALK_CUT;
            break;
        }
        if (infos != NULL) {
            if (out->n_messages >= message_capacity) {
                break;
            }
            owner[out->n_messages] = current[local];
            offsets[out->n_messages] = (int64_t)p;
            infos[current[local]].count++;
        }
        out->n_messages++;
        out->compressed |= (header & 0x80) != 0;
        ordinal++;
        p += size;
    }
    out->stop = p;
}

/* ((offset, ordinal, local, size, offsets bytes, ordinals bytes), ...) of a filled pass. */
static PyObject *segment_definitions(const definition_info *infos, Py_ssize_t n_definitions,
                                     const Py_ssize_t *owner, const int64_t *offsets,
                                     Py_ssize_t n_messages, long long first_ordinal) {
    PyObject *result = PyTuple_New(n_definitions);
    int64_t **offset_out = PyMem_Calloc((size_t)(n_definitions ? n_definitions : 1),
                                        sizeof(int64_t *));
    int64_t **ordinal_out = PyMem_Calloc((size_t)(n_definitions ? n_definitions : 1),
                                         sizeof(int64_t *));
    Py_ssize_t *filled = PyMem_Calloc((size_t)(n_definitions ? n_definitions : 1),
                                      sizeof(Py_ssize_t));
    if (result == NULL || offset_out == NULL || ordinal_out == NULL || filled == NULL) {
        if (result != NULL) {
            PyErr_NoMemory();
        }
        Py_CLEAR(result);
        goto done;
    }
    for (Py_ssize_t d = 0; d < n_definitions; d++) {
        Py_ssize_t length = infos[d].count * (Py_ssize_t)sizeof(int64_t);
        PyObject *offset_bytes = PyBytes_FromStringAndSize(NULL, length);
        PyObject *ordinal_bytes = PyBytes_FromStringAndSize(NULL, length);
        PyObject *item = NULL;
        if (offset_bytes != NULL && ordinal_bytes != NULL) {
            offset_out[d] = (int64_t *)PyBytes_AS_STRING(offset_bytes);
            ordinal_out[d] = (int64_t *)PyBytes_AS_STRING(ordinal_bytes);
            item = Py_BuildValue("(nLinNN)", infos[d].offset, infos[d].ordinal, infos[d].local,
                                 infos[d].size, offset_bytes, ordinal_bytes);
        } else {
            Py_XDECREF(offset_bytes);
            Py_XDECREF(ordinal_bytes);
        }
        if (item == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, d, item);
    }
    for (Py_ssize_t i = 0; i < n_messages; i++) {
        Py_ssize_t d = owner[i];
        Py_ssize_t k = filled[d]++;
        offset_out[d][k] = offsets[i];
        ordinal_out[d][k] = (int64_t)(first_ordinal + i);
    }
done:
    PyMem_Free(offset_out);
    PyMem_Free(ordinal_out);
    PyMem_Free(filled);
    return result;
}

static PyObject *segment(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end;
    long long ordinal;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnL:segment", &view, &start, &end, &ordinal)) {
        return NULL;
    }
    PyObject *answer = NULL;
    definition_info *infos = NULL;
    Py_ssize_t *owner = NULL;
    int64_t *offsets = NULL;
    if (start < 0 || ordinal < 0) {
        PyErr_SetString(PyExc_ValueError, "start and ordinal must not be negative");
        goto done;
    }
    if (ordinal > LLONG_MAX - (long long)view.len) {  /* a message per byte at most */
        PyErr_SetString(PyExc_OverflowError, "ordinal too large to count this buffer's messages");
        goto done;
    }
    const unsigned char *bytes = (const unsigned char *)view.buf;
    segment_result counted, filled;
    segment_pass(bytes, view.len, start, end, ordinal, NULL, 0, NULL, NULL, 0, &counted);
    size_t n_infos = (size_t)(counted.n_definitions ? counted.n_definitions : 1);
    size_t n_slots = (size_t)(counted.n_messages ? counted.n_messages : 1);
    infos = PyMem_Calloc(n_infos, sizeof(definition_info));
    owner = PyMem_Calloc(n_slots, sizeof(Py_ssize_t));
    offsets = PyMem_Calloc(n_slots, sizeof(int64_t));
    if (infos == NULL || owner == NULL || offsets == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    segment_pass(bytes, view.len, start, end, ordinal, infos, counted.n_definitions, owner,
                 offsets, counted.n_messages, &filled);
    if (filled.n_definitions != counted.n_definitions ||
        filled.n_messages != counted.n_messages || filled.stop != counted.stop) {
        PyErr_SetString(PyExc_RuntimeError, "the buffer changed during the walk");
        goto done;
    }
    PyObject *definitions = segment_definitions(infos, filled.n_definitions, owner, offsets,
                                                filled.n_messages, ordinal);
    if (definitions == NULL) {
        goto done;
    }
    answer = Py_BuildValue("(niON)", filled.stop, filled.reason,
                           filled.compressed ? Py_True : Py_False, definitions);
done:
    PyMem_Free(infos);
    PyMem_Free(owner);
    PyMem_Free(offsets);
    PyBuffer_Release(&view);
    return answer;
}

/* -- numbers: plain numeric fields into columns --------------------------------------------- */

#define SPEC_SIZE 12
#define SPEC_UNSIGNED 0
#define SPEC_SIGNED 1
#define SPEC_FLOAT 2

typedef struct {
    Py_ssize_t offset;
    int size;
    int kind;
    uint64_t invalid;
} field_spec;

/* The `size` bytes at `at` as an unsigned integer, in the message's byte order. */
static inline uint64_t read_unsigned(const unsigned char *at, int size, int big_endian) {
    uint64_t value = 0;
    for (int i = 0; i < size; i++) {
        unsigned char byte = big_endian ? at[i] : at[size - 1 - i];
        value = (value << 8) | byte;
    }
    return value;
}

static double field_value(const unsigned char *at, const field_spec *f, int big_endian) {
    uint64_t raw = read_unsigned(at, f->size, big_endian);
    if (f->kind == SPEC_FLOAT) {
        if (f->size == 4) {
            uint32_t bits = (uint32_t)raw;
            float single;
            memcpy(&single, &bits, sizeof(single));
            return (double)single;
        }
        double value;
        memcpy(&value, &raw, sizeof(value));
        return value;
    }
    if (raw == f->invalid) {
        return (double)NAN;
    }
    if (f->kind == SPEC_SIGNED && f->size < 8) {
        uint64_t sign = (uint64_t)1 << (8 * f->size - 1);
        return (double)((int64_t)(raw ^ sign) - (int64_t)sign);
    }
    return f->kind == SPEC_SIGNED ? (double)(int64_t)raw : (double)raw;
}

/* The fields of `spec`, checked: sizes and kinds known, and inside every message's bytes. */
static field_spec *read_spec(const unsigned char *spec, Py_ssize_t n_fields) {
    field_spec *fields = PyMem_Calloc((size_t)(n_fields ? n_fields : 1), sizeof(field_spec));
    if (fields == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t k = 0; k < n_fields; k++) {
        const unsigned char *s = spec + k * SPEC_SIZE;
        field_spec *f = &fields[k];
        f->offset = (Py_ssize_t)(s[0] | (s[1] << 8));
        f->size = s[2];
        f->kind = s[3];
        f->invalid = read_unsigned(s + 4, 8, 0);
        int size_ok = f->size == 1 || f->size == 2 || f->size == 4 || f->size == 8;
        int kind_ok = f->kind == SPEC_UNSIGNED || f->kind == SPEC_SIGNED ||
                      (f->kind == SPEC_FLOAT && (f->size == 4 || f->size == 8));
        if (!size_ok || !kind_ok) {
            PyMem_Free(fields);
            PyErr_SetString(PyExc_ValueError, "a field spec has an unknown size or kind");
            return NULL;
        }
    }
    return fields;
}

static PyObject *numbers(PyObject *self, PyObject *args) {
    Py_buffer data, offsets, spec;
    int big_endian;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*p:numbers", &data, &offsets, &spec, &big_endian)) {
        return NULL;
    }
    PyObject *answer = NULL;
    field_spec *fields = NULL;
    if (offsets.len % (Py_ssize_t)sizeof(int64_t) || spec.len % SPEC_SIZE) {
        PyErr_SetString(PyExc_ValueError, "offsets or spec of a partial length");
        goto done;
    }
    Py_ssize_t n = offsets.len / (Py_ssize_t)sizeof(int64_t);
    Py_ssize_t n_fields = spec.len / SPEC_SIZE;
    fields = read_spec((const unsigned char *)spec.buf, n_fields);
    if (fields == NULL) {
        goto done;
    }
    if (n && n_fields > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(double) / n) {
        PyErr_NoMemory();
        goto done;
    }
    answer = PyByteArray_FromStringAndSize(NULL, n * n_fields * (Py_ssize_t)sizeof(double));
    if (answer == NULL) {
        goto done;
    }
    double *out = (double *)PyByteArray_AS_STRING(answer);
    const unsigned char *bytes = (const unsigned char *)data.buf;
    const unsigned char *starts = (const unsigned char *)offsets.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t start;
        memcpy(&start, starts + i * (Py_ssize_t)sizeof(int64_t), sizeof(start));
        for (Py_ssize_t k = 0; k < n_fields; k++) {
            const field_spec *f = &fields[k];
            if (start < 0 || start > (int64_t)data.len ||
                f->offset + f->size > data.len - (Py_ssize_t)start) {
                Py_CLEAR(answer);
                PyErr_SetString(PyExc_ValueError, "a field lies outside the data");
                goto done;
            }
            out[k * n + i] = field_value(bytes + start + f->offset, f, big_endian);
        }
    }
done:
    PyMem_Free(fields);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&spec);
    return answer;
}

/* An int64 array argument's length in values (-1 with ValueError when not whole). */
static Py_ssize_t int64_count(const Py_buffer *buffer) {
    if (buffer->len % (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "an int64 array of a partial length");
        return -1;
    }
    return buffer->len / (Py_ssize_t)sizeof(int64_t);
}

static int64_t int64_at(const Py_buffer *buffer, Py_ssize_t i) {
    int64_t value;
    memcpy(&value, (const char *)buffer->buf + i * (Py_ssize_t)sizeof(int64_t), sizeof(value));
    return value;
}

#define IS_RESET 1
#define IS_COMPRESSED 2
#define IS_SET 4

static PyObject *compressed(PyObject *self, PyObject *args) {
    Py_buffer data, offsets, ordinals, set_ordinals, set_values, resets;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*:compressed", &data, &offsets, &ordinals,
                          &set_ordinals, &set_values, &resets)) {
        return NULL;
    }
    PyObject *answer = NULL;
    unsigned char *state = NULL; /* per message: IS_RESET | IS_COMPRESSED | IS_SET */
    unsigned char *offset5 = NULL;
    int64_t *sets = NULL;
    Py_ssize_t n = int64_count(&offsets);
    Py_ssize_t n_sets = int64_count(&set_ordinals);
    Py_ssize_t n_resets = int64_count(&resets);
    if (n < 0 || n_sets < 0 || n_resets < 0) {
        goto done;
    }
    if (int64_count(&ordinals) != n || int64_count(&set_values) != n_sets) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "arrays of different lengths");
        }
        goto done;
    }
    state = PyMem_Calloc((size_t)n + 1, 1);
    offset5 = PyMem_Calloc((size_t)n + 1, 1);
    sets = PyMem_Malloc(((size_t)n + 1) * sizeof(int64_t));
    if (state == NULL || offset5 == NULL || sets == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const unsigned char *bytes = (const unsigned char *)data.buf;
    Py_ssize_t n_compressed = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t start = int64_at(&offsets, i), ordinal = int64_at(&ordinals, i);
        if (start < 0 || start >= (int64_t)data.len || ordinal < 0 || ordinal >= (int64_t)n) {
            PyErr_SetString(PyExc_ValueError, "a message outside the data or the ordinals");
            goto done;
        }
        if (bytes[start] & 0x80 && !(state[ordinal] & IS_COMPRESSED)) {
            state[ordinal] |= IS_COMPRESSED;
            offset5[ordinal] = bytes[start] & 0x1F;
            n_compressed++;
        }
    }
    for (Py_ssize_t i = 0; i < n_sets; i++) {
        int64_t ordinal = int64_at(&set_ordinals, i), value = int64_at(&set_values, i);
        if (ordinal < 0 || ordinal >= (int64_t)n) {
            PyErr_SetString(PyExc_ValueError, "a timestamp outside the ordinals");
            goto done;
        }
        sets[ordinal] = value; /* the last given for a message wins */
        state[ordinal] |= IS_SET;
    }
    for (Py_ssize_t i = 0; i < n_resets; i++) {
        int64_t ordinal = int64_at(&resets, i);
        if (ordinal < 0 || ordinal > (int64_t)n) {
            PyErr_SetString(PyExc_ValueError, "a segment start outside the ordinals");
            goto done;
        }
        state[ordinal] |= IS_RESET; /* state has n + 1 places: a segment without messages */
    }
    PyObject *ordinals_out = PyBytes_FromStringAndSize(NULL, n_compressed * (Py_ssize_t)sizeof(int64_t));
    PyObject *times_out = PyBytes_FromStringAndSize(NULL, n_compressed * (Py_ssize_t)sizeof(int64_t));
    if (ordinals_out == NULL || times_out == NULL) {
        Py_XDECREF(ordinals_out);
        Py_XDECREF(times_out);
        goto done;
    }
    char *ordinal_bytes = PyBytes_AS_STRING(ordinals_out);
    char *time_bytes = PyBytes_AS_STRING(times_out);
    uint64_t accumulator = 0;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (state[i] & IS_RESET) {
            accumulator = 0;
        }
        if (state[i] & IS_SET) {
            accumulator = (uint64_t)sets[i]; /* int64 arithmetic, wrapping as numpy's does */
        }
        if (state[i] & IS_COMPRESSED) {
            accumulator += ((uint64_t)offset5[i] - accumulator) & 0x1F;
            int64_t ordinal = (int64_t)i, time = (int64_t)accumulator;
            memcpy(ordinal_bytes + k * (Py_ssize_t)sizeof(int64_t), &ordinal, sizeof(ordinal));
            memcpy(time_bytes + k * (Py_ssize_t)sizeof(int64_t), &time, sizeof(time));
            k++;
        }
    }
    answer = Py_BuildValue("(NN)", ordinals_out, times_out);
done:
    PyMem_Free(state);
    PyMem_Free(offset5);
    PyMem_Free(sets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&ordinals);
    PyBuffer_Release(&set_ordinals);
    PyBuffer_Release(&set_values);
    PyBuffer_Release(&resets);
    return answer;
}

static PyMethodDef methods[] = {
    {"segment", segment, METH_VARARGS,
     "segment(data, start, end, ordinal) -> (stop, reason, compressed, definitions)\n\n"
     "Walk one FIT segment through its definition messages (see the module)."},
    {"crc", crc, METH_VARARGS, "crc(data) -> int\n\nThe FIT CRC-16 of a buffer."},
    {"numbers", numbers, METH_VARARGS,
     "numbers(data, offsets, spec, big_endian) -> bytearray\n\n"
     "Numeric fields of messages of one layout as float64 columns (see the module)."},
    {"compressed", compressed, METH_VARARGS,
     "compressed(data, offsets, ordinals, set_ordinals, set_values, resets) -> (ordinals, times)\n\n"
     "The times of the compressed-timestamp messages, as fitparse accumulates them (see the module)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_fitwalk",
    "The FIT header walk, CRC and numeric fields of ingest.fit_fast in C (optional; Python does the same).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__fitwalk(void) {
    fill_crc_table();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "WALK_END", WALK_END) < 0 ||
        PyModule_AddIntConstant(m, "WALK_DEFINITION", WALK_DEFINITION) < 0 ||
        PyModule_AddIntConstant(m, "WALK_UNDEFINED", WALK_UNDEFINED) < 0 ||
        PyModule_AddIntConstant(m, "WALK_CUT", WALK_CUT) < 0 ||
        PyModule_AddIntConstant(m, "SPEC_SIZE", SPEC_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "SPEC_UNSIGNED", SPEC_UNSIGNED) < 0 ||
        PyModule_AddIntConstant(m, "SPEC_SIGNED", SPEC_SIGNED) < 0 ||
        PyModule_AddIntConstant(m, "SPEC_FLOAT", SPEC_FLOAT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
