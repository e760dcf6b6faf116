package org.extentcache.frame;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.extentcache.frame.FrameDescriptor.*;
import static org.junit.jupiter.api.Assertions.*;

class FrameArenaTest
{
    @Test
    void stateWordAndHandleFieldsDoNotOverlapAndRoundTrip()
    {
        assertEquals(64, GENERATION_BITS + STATE_BITS + PINS_BITS);
        assertEquals(GENERATION_SHIFT, Handle.GENERATION_SHIFT);
        final long word = packStateWord(MAX_GENERATION - 1, RETIRED, MAX_PINS);
        assertEquals(MAX_GENERATION - 1, generation(word));
        assertEquals(RETIRED, state(word));
        assertEquals(MAX_PINS, pins(word));
        assertEquals(UPTODATE, state(withState(word, UPTODATE)));
        assertEquals(MAX_PINS, pins(withState(word, UPTODATE)));

        final long handle = Handle.handle(Handle.MAX_FRAMES - 1, MAX_GENERATION - 1);
        assertEquals(Handle.MAX_FRAMES - 1, Handle.frame(handle));
        assertEquals(MAX_GENERATION - 1, Handle.generation(handle));
        assertTrue(Handle.matches(handle, word));
        assertFalse(Handle.matches(handle, packStateWord(MAX_GENERATION - 2, RETIRED, MAX_PINS)));
        assertNotEquals(Handle.NONE, Handle.handle(0, FIRST_GENERATION));
    }

    @Test
    void recordsAreAlignedAndDisjoint()
    {
        assertEquals(0, STATE_WORD_OFFSET % Long.BYTES);
        assertEquals(0, RECORD_LENGTH % Long.BYTES);
        assertEquals(RECORD_LENGTH, recordOffset(1) - recordOffset(0));
        assertTrue(NEXT_FREE_OFFSET + Integer.BYTES <= RECORD_LENGTH);
    }

    @Test
    void freeListHandsOutEveryFrameOnceAndFreeBumpsGeneration()
    {
        try (FrameArena arena = new FrameArena(4096, 100))
        {
            final Set<Integer> seen = new HashSet<>();
            for (int i = 0; i < 100; i++)
            {
                final int frame = arena.popFree();
                assertTrue(seen.add(frame), "frame handed out twice: " + frame);
                assertEquals(packStateWord(FIRST_GENERATION, FREE, 0), arena.stateWord(frame));
            }
            assertEquals(NO_FRAME, arena.popFree());
            assertEquals(0, arena.freeCount());

            final long word = packStateWord(FIRST_GENERATION, ORPHAN, 0);
            arena.putStateWordRelease(7, word);
            arena.free(7, word);
            assertEquals(packStateWord(FIRST_GENERATION + 1, FREE, 0), arena.stateWord(7));
            assertEquals(1, arena.freeCount());
            assertEquals(7, arena.popFree());
        }
    }

    @Test
    void framesAreDistinctMemoryAcrossChunks()
    {
        try (FrameArena arena = new FrameArena(65536, 300))
        {
            final Set<Long> addresses = new HashSet<>();
            for (int frame = 0; frame < arena.capacity(); frame++)
            {
                assertTrue(addresses.add(arena.address(frame)));
                assertEquals(65536, arena.frameBuffer(frame).remaining());
            }
            arena.frameBuffer(299).putLong(0, 0x1234L);
            assertEquals(0x1234L, arena.frameBuffer(299).getLong(0));
        }
    }

    @Test
    void aFrameWhoseGenerationsAreUsedUpIsRetiredNotReused()
    {
        try (FrameArena arena = new FrameArena(4096, 8))
        {
            final int frame = arena.popFree();
            final long last = packStateWord(MAX_GENERATION - 1, ORPHAN, 0);
            arena.putStateWordRelease(frame, last);
            arena.free(frame, last);
            assertEquals(RETIRED, state(arena.stateWord(frame)));
            assertEquals(1, arena.retiredCount());
            assertEquals(7, arena.freeCount());
        }
    }

    @Test
    void sweepSkipsPinnedAndGivesReferencedFramesASecondChance()
    {
        try (FrameArena arena = new FrameArena(4096, 8))
        {
            for (int i = 0; i < 8; i++)
            {
                final int frame = arena.popFree();
                arena.putStateWordRelease(frame, packStateWord(FIRST_GENERATION, UPTODATE, frame == 0 ? 1 : 0));
                arena.markReferenced(frame);
            }
            final int[] victim = new int[1];
            final long orphan = arena.sweep(16, victim);
            assertNotEquals(-1, orphan);
            assertEquals(1, victim[0], "frame 0 is pinned; frame 1 loses its second chance first");
            assertEquals(ORPHAN, state(orphan));
        }
    }

    @Test
    void rejectsBadGeometry()
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> new FrameArena(3000, 8));
        assertTrue(ex.getMessage().contains("pageSize=3000"), ex.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new FrameArena(4096, 0));
    }
}
